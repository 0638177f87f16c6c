package localdb

import (
	"encoding/json"
	"fmt"
	"slices"

	"casefile/internal/fieldtext"
	"casefile/internal/jsonread"
	"casefile/model"
	"casefile/protocol"
)

// withSentFields returns results with the fields filled in of each answer
// that left them out as the ones its op sent (protocol.OpResult.FieldsSent,
// a lean answer): the op's fields as it was sent, from sent (the ops as
// handed out for that push), decoded as the full answer's would have been.
// results itself is left as it is. An answer that says so of an op not in
// sent cannot be applied: what it stands for is not at hand.
func withSentFields(results []protocol.OpResult, sent []OutboxOp) ([]protocol.OpResult, error) {
	var out []protocol.OpResult
	var byID map[string]*OutboxOp
	for i := range results {
		if !results[i].FieldsSent {
			continue
		}
		if out == nil {
			out = slices.Clone(results)
			byID = make(map[string]*OutboxOp, len(sent))
			for j := range sent {
				byID[sent[j].OpID] = &sent[j]
			}
		}
		res := &out[i]
		op, ok := byID[res.OpID]
		if !ok || res.Record == nil {
			return nil, fmt.Errorf("op %s: the answer leaves out the fields the op sent, and they are not at hand", res.OpID)
		}
		fields, err := sentFields(op)
		if err != nil {
			return nil, fmt.Errorf("op %s: %w", res.OpID, err)
		}
		rec := *res.Record
		rec.Fields, res.Record, res.FieldsSent = fields, &rec, false
	}
	if out == nil {
		return results, nil
	}
	return out, nil
}

// sentFields are op's fields as a server decodes them from its push, and
// as a client decodes them from an answer: the same JSON read back.
func sentFields(op *OutboxOp) (model.Fields, error) {
	text := op.FieldsJSON
	if text == nil {
		var err error
		if text, err = fieldtext.AppendObject(nil, op.Fields); err != nil {
			return nil, fmt.Errorf("encode the fields sent: %w", err)
		}
	}
	var fields model.Fields
	d := jsonread.NewReader(text)
	if d.End(jsonread.Map(d, &fields)) {
		return fields, nil
	}
	fields = nil
	if err := json.Unmarshal(text, &fields); err != nil {
		return nil, fmt.Errorf("decode the fields sent: %w", err)
	}
	return fields, nil
}
