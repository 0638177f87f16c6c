package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"casefile/internal/fieldtext"
	"casefile/model"
	"casefile/protocol"
)

// PushOp is one op of a push. FieldsJSON, when set, stands for Fields: the
// op's fields already encoded, exactly as encoding Fields would write them
// (the outbox keeps them so), sent as they are instead of being decoded
// only to be encoded again.
type PushOp struct {
	model.Op
	FieldsJSON []byte
}

// sentFields says whether the op sends fields (appendOp writes them).
func (o *PushOp) sentFields() bool {
	if o.FieldsJSON != nil {
		return string(o.FieldsJSON) != "{}" && string(o.FieldsJSON) != "null"
	}
	return len(o.Fields) > 0
}

// Push is a push's request body, encoded once: a caller can weigh it
// before sending it.
type Push struct {
	ops  []PushOp
	body []byte
}

// EncodePush encodes the request body of a push of ops: what encoding
// protocol.PushRequest of the ops writes, byte for byte
// (TestEncodePushIsJSONs), without reflection.
func EncodePush(ops []PushOp) (*Push, error) {
	size := 16
	for i := range ops {
		size += len(ops[i].FieldsJSON) + 192
	}
	b := append(make([]byte, 0, size), `{"ops":`...)
	if ops == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range ops {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendOp(b, &ops[i]); err != nil {
				return nil, fmt.Errorf("encode push: %w", err)
			}
		}
		b = append(b, ']')
	}
	return &Push{ops: ops, body: append(b, '}')}, nil
}

// appendOp appends o as encoding model.Op writes it, its fields the
// FieldsJSON given or Fields encoded.
func appendOp(b []byte, o *PushOp) ([]byte, error) {
	b = fieldtext.AppendString(append(b, `{"op_id":`...), o.OpID)
	b = fieldtext.AppendString(append(b, `,"record_id":`...), o.RecordID)
	b = fieldtext.AppendString(append(b, `,"collection":`...), o.Collection)
	b = fieldtext.AppendString(append(b, `,"kind":`...), string(o.Kind))
	// model.Op leaves out empty fields (omitempty).
	switch fields := o.FieldsJSON; {
	case fields != nil && string(fields) != "{}" && string(fields) != "null":
		b = append(b, `,"fields":`...)
		if fieldtext.Canonical(string(fields)) {
			b = append(b, fields...)
			break
		}
		// Text written otherwise goes as encoding/json writes a raw
		// message: checked, compacted, HTML escaped.
		raw, err := json.Marshal(json.RawMessage(fields))
		if err != nil {
			return nil, err
		}
		b = append(b, raw...)
	case fields == nil && len(o.Fields) > 0:
		var err error
		if b, err = fieldtext.AppendObject(append(b, `,"fields":`...), o.Fields); err != nil {
			return nil, err
		}
	}
	b = strconv.AppendInt(append(b, `,"base_version":`...), o.BaseVersion, 10)
	if o.Resent {
		b = append(b, `,"resent":true`...)
	}
	if o.SentSince != 0 {
		b = strconv.AppendInt(append(b, `,"sent_since":`...), o.SentSince, 10)
	}
	return append(b, '}'), nil
}

// Size is the length of the request body in bytes, before compression.
func (p *Push) Size() int { return len(p.body) }

// Push sends a batch of ops and returns one result per op, checked to
// match the batch op for op. Unless the client was made WithFullPushAnswers,
// a result may be lean (FieldsSent): its record's fields are then the op's.
func (c *Client) Push(ctx context.Context, ops []model.Op) (protocol.PushResponse, error) {
	return c.PushFrom(ctx, ops, -1)
}

// PushFrom is Push from a client whose pull cursor is cursor (-1: none to
// name): when nothing but this batch changed on the server after it, the
// answer's Cursor is the head (see protocol.PushResponse.Cursor).
func (c *Client) PushFrom(ctx context.Context, ops []model.Op, cursor int64) (protocol.PushResponse, error) {
	p := make([]PushOp, len(ops))
	for i, o := range ops {
		p[i] = PushOp{Op: o}
	}
	push, err := EncodePush(p)
	if err != nil {
		return protocol.PushResponse{}, err
	}
	return c.SendPush(ctx, push, cursor)
}

// noteAnswerBytes takes up the bound on a push's results an answer gives
// (protocol.HeaderAnswerBytes); a value that is not a positive number is
// not taken.
func (c *Client) noteAnswerBytes(resp *http.Response) {
	v := resp.Header.Get(protocol.HeaderAnswerBytes)
	if v == "" {
		return
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
		c.answerBytes.Store(min(n, math.MaxInt32))
	}
}

// AnswerBytes is the bound on a push's results the server said last
// (protocol.HeaderAnswerBytes), in bytes; 0 until a server has said one.
func (c *Client) AnswerBytes() int { return int(c.answerBytes.Load()) }

// SendPush is PushFrom of a push already encoded.
func (c *Client) SendPush(ctx context.Context, p *Push, cursor int64) (protocol.PushResponse, error) {
	var out protocol.PushResponse
	hdr := http.Header{}
	if cursor >= 0 {
		hdr.Set(protocol.HeaderCursor, strconv.FormatInt(cursor, 10))
	}
	lean := !c.fullAnswers
	if lean {
		hdr.Set(protocol.HeaderPushAnswer, protocol.PushAnswerLean)
	}
	if err := c.doHeader(ctx, http.MethodPost, protocol.PathPush, nil, hdr, p.body, &out, c.timeout); err != nil {
		return out, fmt.Errorf("push: %w", err)
	}
	if err := checkPush(p.ops, out, lean); err != nil {
		return out, fmt.Errorf("push: %w", err)
	}
	return out, nil
}

// checkPush makes sure every op got exactly its own answer with a known
// result, and that a result leaves out its record's fields (FieldsSent)
// only where the push asked (lean) and its op sent fields.
func checkPush(ops []PushOp, resp protocol.PushResponse, lean bool) error {
	if len(resp.Results) != len(ops) {
		return protocolError("push answer has %d results for %d ops", len(resp.Results), len(ops))
	}
	for i, r := range resp.Results {
		if r.OpID != ops[i].OpID {
			return protocolError("push result %d is for op %q, not %q", i, r.OpID, ops[i].OpID)
		}
		switch r.Result {
		case model.ResultApplied, model.ResultMerged, model.ResultConflict, model.ResultRejected:
		default:
			return protocolError("push result %d: unknown result %q", i, r.Result)
		}
		if r.Record != nil && r.Record.ID != ops[i].RecordID {
			return protocolError("push result %d carries record %q for op on %q", i, r.Record.ID, ops[i].RecordID)
		}
		if r.FieldsSent && (!lean || r.Record == nil || r.Record.Fields != nil || !ops[i].sentFields()) {
			return protocolError("push result %d says its record holds the fields sent, which it cannot", i)
		}
	}
	return nil
}
