package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"casefile/internal/fieldtext"
	"casefile/model"
	"casefile/protocol"
)

// An op's result is encoded once, when it is decided: the same text is
// its ledger row and its part of the push's answer. json.Marshal did it
// twice, with reflection, and that was a tenth of a push's time on the
// server.

// resultSize is room for most results' JSON: some 450 bytes of a record
// and its fields.
const resultSize = 1024

// encodeResult returns res's JSON, byte for byte what json.Marshal writes.
func encodeResult(res *protocol.OpResult) ([]byte, error) {
	b, err := appendOpResult(make([]byte, 0, resultSize), res)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// appendOpResult appends res's JSON, byte for byte what json.Marshal
// writes for it, or fails where json.Marshal fails (a time it cannot
// write).
func appendOpResult(b []byte, res *protocol.OpResult) ([]byte, error) {
	b = fieldtext.AppendString(append(b, `{"op_id":`...), res.OpID)
	b = fieldtext.AppendString(append(b, `,"result":`...), string(res.Result))
	var err error
	if res.Record != nil {
		if b, err = appendRecord(append(b, `,"record":`...), res.Record); err != nil {
			return nil, err
		}
	}
	if res.FieldsSent {
		b = append(b, `,"fields_sent":true`...)
	}
	if len(res.ConflictFields) > 0 {
		b = fieldtext.AppendStrings(append(b, `,"conflict_fields":`...), res.ConflictFields)
	}
	if len(res.Dropped) > 0 {
		b = fieldtext.AppendStrings(append(b, `,"dropped":`...), res.Dropped)
	}
	b = appendNonEmpty(b, `,"code":`, string(res.Code))
	b = appendNonEmpty(b, `,"message":`, res.Message)
	b = appendNonEmpty(b, `,"changed_by":`, res.ChangedBy)
	if !res.ChangedAt.IsZero() {
		if b, err = fieldtext.AppendTime(append(b, `,"changed_at":`...), res.ChangedAt); err != nil {
			return nil, err
		}
	}
	if len(res.Problems) > 0 {
		// Only a rejection has problems: rare enough for json.Marshal.
		p, err := json.Marshal(res.Problems)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"problems":`...), p...)
	}
	return append(b, '}'), nil
}

// appendNonEmpty appends key and s, a string member with omitempty, unless
// s is empty.
func appendNonEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return fieldtext.AppendString(append(b, key...), s)
}

// appendRecord appends rec's JSON as json.Marshal writes it: a pulled
// record's, with its fields encoded in their place.
func appendRecord(b []byte, rec *protocol.Record) ([]byte, error) {
	r := pulledRecord{ID: rec.ID, Collection: rec.Collection, MatterID: rec.MatterID, Version: rec.Version, Seq: rec.Seq,
		Deleted: rec.Deleted, CreatedBy: rec.CreatedBy, CreatedAt: rec.CreatedAt, UpdatedBy: rec.UpdatedBy, UpdatedAt: rec.UpdatedAt}
	b, err := fieldtext.AppendObject(append(r.appendHead(b), `,"fields":`...), rec.Fields)
	if err != nil {
		return nil, fmt.Errorf("record %s fields: %w", rec.ID, err)
	}
	return r.appendTail(b)
}

// appendPushResponse appends resp's JSON and a newline, byte for byte what
// writeJSON writes for it. texts[i], when there is one, is
// resp.Results[i]'s JSON already encoded (encodeResult); results without
// one are encoded here.
func appendPushResponse(b []byte, resp *protocol.PushResponse, texts [][]byte) ([]byte, error) {
	if resp.Results == nil {
		b = append(b, `{"results":null`...)
	} else {
		b = append(b, `{"results":[`...)
		for i := range resp.Results {
			if i > 0 {
				b = append(b, ',')
			}
			if i < len(texts) && texts[i] != nil {
				b = append(b, texts[i]...)
				continue
			}
			var err error
			if b, err = appendOpResult(b, &resp.Results[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = strconv.AppendInt(append(b, `,"head":`...), resp.Head, 10)
	if resp.Cursor != 0 {
		b = strconv.AppendInt(append(b, `,"cursor":`...), resp.Cursor, 10)
	}
	if resp.Prior != nil {
		b = strconv.AppendInt(append(b, `,"prior":`...), *resp.Prior, 10)
	}
	return append(b, "}\n"...), nil
}

// wantsLean says whether a push asked for lean answers (HeaderPushAnswer).
func wantsLean(r *http.Request) bool {
	return r.Header.Get(protocol.HeaderPushAnswer) == protocol.PushAnswerLean
}

// leanAnswers leaves out of resp the fields of each record that holds
// exactly what its op sent (ops[i] answered by resp.Results[i]), and says
// so (OpResult.FieldsSent): the client asked, and holds them already. A
// result made lean loses its text in texts, to be encoded again. A create
// applied as sent is the usual case: its answer shrinks from the whole
// note to its envelope.
func leanAnswers(ops []model.Op, resp *protocol.PushResponse, texts [][]byte) {
	for i := range resp.Results {
		res := &resp.Results[i]
		if i >= len(ops) || res.Record == nil || len(ops[i].Fields) == 0 || !sameValue(map[string]any(res.Record.Fields), map[string]any(ops[i].Fields)) {
			continue
		}
		rec := *res.Record
		rec.Fields = nil
		res.Record, res.FieldsSent = &rec, true
		texts[i] = nil
	}
}

// sameValue says whether a and b are the same JSON value, so that
// encoding either writes the same text: numbers compare by their bits (0
// and -0 encode apart, as do null and an empty list or object), a list of strings is the same as a list of any
// holding those strings (a decoded op holds the one, a stored record's
// tags the other), and a type it does not know is never the same.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []string:
		return sameStrings(x, b)
	case []any:
		if y, ok := b.([]string); ok {
			return sameStrings(y, x)
		}
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// sameStrings says whether b is the list x, as []string or as []any (nil
// only where x is: null and [] encode apart).
func sameStrings(x []string, b any) bool {
	switch y := b.(type) {
	case []string:
		return (x == nil) == (y == nil) && slices.Equal(x, y)
	case []any:
		if len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if s, ok := y[i].(string); !ok || s != x[i] {
				return false
			}
		}
		return true
	}
	return false
}
