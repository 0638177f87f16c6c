package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

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

// wireOp is model.Op as JSON with its fields already encoded: the same
// members, tags and order (TestWireOpMatchesModelOp holds them together).
type wireOp struct {
	OpID        string          `json:"op_id"`
	RecordID    string          `json:"record_id"`
	Collection  string          `json:"collection"`
	Kind        model.OpKind    `json:"kind"`
	Fields      json.RawMessage `json:"fields,omitempty"`
	BaseVersion int64           `json:"base_version"`
	Resent      bool            `json:"resent,omitempty"`
	SentSince   int64           `json:"sent_since,omitempty"`
}

// Push is a push's request body, encoded once: a caller can weigh it
// before sending it.
type Push struct {
	ops  []PushOp
	body []byte
}

// EncodePush encodes the request body of a push of ops.
func EncodePush(ops []PushOp) (*Push, error) {
	wire := make([]wireOp, len(ops))
	for i, o := range ops {
		fields := json.RawMessage(o.FieldsJSON)
		if fields == nil && o.Fields != nil {
			b, err := json.Marshal(o.Fields)
			if err != nil {
				return nil, fmt.Errorf("encode push: %w", err)
			}
			fields = b
		}
		if string(fields) == "{}" || string(fields) == "null" {
			// model.Op leaves out empty fields (omitempty).
			fields = nil
		}
		wire[i] = wireOp{OpID: o.OpID, RecordID: o.RecordID, Collection: o.Collection, Kind: o.Kind, Fields: fields,
			BaseVersion: o.BaseVersion, Resent: o.Resent, SentSince: o.SentSince}
	}
	body, err := json.Marshal(struct {
		Ops []wireOp `json:"ops"`
	}{wire})
	if err != nil {
		return nil, fmt.Errorf("encode push: %w", err)
	}
	return &Push{ops: ops, body: body}, nil
}

// Size is the length of the request body in bytes, before compression.
func (p *Push) Size() int { return len(p.body) }

// Push sends a batch of ops and returns one result per op, checked to
// match the batch op for op.
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

// SendPush is PushFrom of a push already encoded.
func (c *Client) SendPush(ctx context.Context, p *Push, cursor int64) (protocol.PushResponse, error) {
	var out protocol.PushResponse
	var hdr http.Header
	if cursor >= 0 {
		hdr = http.Header{protocol.HeaderCursor: {strconv.FormatInt(cursor, 10)}}
	}
	if err := c.doHeader(ctx, http.MethodPost, protocol.PathPush, nil, hdr, p.body, &out, c.timeout); err != nil {
		return out, fmt.Errorf("push: %w", err)
	}
	if err := checkPush(p.ops, out); err != nil {
		return out, fmt.Errorf("push: %w", err)
	}
	return out, nil
}

// checkPush makes sure every op got exactly its own answer with a known result.
func checkPush(ops []PushOp, resp protocol.PushResponse) error {
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
	}
	return nil
}
