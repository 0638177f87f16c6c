package server

import (
	"encoding/json"
	"fmt"
	"strconv"

	"casefile/internal/fieldtext"
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
