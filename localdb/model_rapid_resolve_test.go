package localdb_test

// The in-memory client model, continued: resolutions, retries and
// discards, and the helpers that compare values.

import (
	"encoding/json"
	"fmt"
	"slices"

	"casefile/localdb"
	"casefile/model"
)

// resolve models Resolve; newOp is the op the resolution queues (nil: none).
func (m *clientModel) resolve(id string, res model.Resolution) (*model.Op, errKind) {
	c := m.conflicts[id]
	if c == nil {
		return nil, errNoConflict
	}
	op, err := c.Resolve(m.col(c.Collection), res, "new")
	if err != nil {
		return nil, errResolution
	}
	at := -1
	for i, o := range m.ops {
		if o.id == c.OpID {
			at = i
		}
	}
	delete(m.conflicts, id)
	if op != nil {
		n := &mOp{record: id, coll: c.Collection, kind: op.Kind, fields: op.Fields.Clone(), baseVer: op.BaseVersion, state: localdb.OpPending}
		if c.Kind == model.ConflictEditDeleted && at >= 0 {
			// The restore, as the model derives it, not as Resolve does.
			n.fields, n.restoreMine = m.restored(c, m.ops[at]), map[string]bool{}
			for f := range m.ops[at].fields {
				n.restoreMine[f] = true
			}
			stats.restores.Add(1)
		}
		if op.Kind == model.OpUpdate {
			n.baseVals, n.baseView = model.Fields{}, model.Fields{}
			for k := range op.Fields {
				n.baseVals[k] = cloneValue(c.Theirs[k])
				n.baseView[k] = cloneValue(c.Theirs[k])
			}
		}
		if at >= 0 {
			m.ops[at] = n
		} else {
			m.ops = append(m.ops, n)
		}
	} else if at >= 0 {
		m.ops = slices.Delete(m.ops, at, at+1)
	}
	// Updates move onto the version the resolution was reviewed against
	// only if every field they change is, after it, as their author saw it.
	expected := overlay(c.Theirs.Clone(), nil)
	if op != nil {
		expected = overlay(expected, op.Fields)
	}
	// So do the restores an undo made on top of a delete the resolution
	// sends again (creates on the delete's base).
	for _, o := range m.recordOps(id) {
		if (o.kind != model.OpUpdate && o.kind != model.OpCreate) || o.state == localdb.OpConflict || o.baseVer >= c.TheirsVersion {
			continue
		}
		move := true
		if o.kind == model.OpCreate {
			move = op != nil && op.Kind == model.OpDelete && o.baseVer == c.BaseVersion
		}
		for f := range o.fields {
			if seen, ok := o.baseVals[f]; o.kind == model.OpUpdate && (!ok || !model.Equal(seen, expected[f])) {
				move = false
			}
		}
		if move {
			o.baseVer = c.TheirsVersion
		}
	}
	m.recompute(id)
	m.journal++
	return op, errNone
}

// retry models RetryOp of one op and reports whether it counted.
func (m *clientModel) retry(o *mOp) (bool, errKind) {
	switch o.state {
	case localdb.OpRetrying:
		o.due = true
		return true, errNone
	case localdb.OpFailed:
		if m.recs[o.record] == nil {
			return false, errRecordGone
		}
		if o.heldBack() {
			o.state, o.code, o.due = localdb.OpRetrying, "", true
			m.recompute(o.record)
			m.journal++
			return true, errNone
		}
		o.id, o.state, o.attempts, o.code, o.due, o.maybeSent = "", localdb.OpPending, 0, "", false, false
		m.recompute(o.record)
		m.journal++
		return true, errNone
	case localdb.OpConflict:
		return false, errInConflict
	}
	return false, errNone
}

// retryAll models RetryAll.
func (m *clientModel) retryAll() int {
	n := 0
	for _, o := range slices.Clone(m.ops) {
		if o.state == localdb.OpFailed || o.state == localdb.OpRetrying {
			if ok, _ := m.retry(o); ok {
				n++
			}
		}
	}
	return n
}

// discard models DiscardOp.
func (m *clientModel) discard(o *mOp) errKind {
	if o.state == localdb.OpSyncing {
		return errSending
	}
	drop := []*mOp{o}
	r := m.recs[o.record]
	if o.kind == model.OpCreate && (r == nil || r.base == nil) {
		ops := m.recordOps(o.record)
		later := ops[slices.Index(ops, o)+1:]
		for _, l := range later {
			if l.state == localdb.OpSyncing {
				return errSending
			}
		}
		drop = append(drop, later...)
	}
	if o.kind == model.OpUpdate {
		// What the ops behind saw of the discarded op's values is now what
		// it had replaced.
		ops := m.recordOps(o.record)
		for _, l := range ops[slices.Index(ops, o)+1:] {
			for f, v := range o.fields {
				if seen, ok := l.baseVals[f]; ok && model.Equal(seen, v) {
					l.baseVals[f] = cloneValue(o.baseVals[f])
				}
			}
		}
	}
	for _, d := range drop {
		m.removeOp(d)
		if c := m.conflicts[d.record]; c != nil && c.OpID == d.id {
			delete(m.conflicts, d.record)
		}
		m.journal++
	}
	if r != nil {
		m.recompute(o.record)
	}
	return errNone
}

func sortedKeys[V any](set map[string]V) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// canon renders fields as JSON in one form: nil and empty are both {}.
func canon(f model.Fields) string {
	if len(f) == 0 {
		return "{}"
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Sprintf("unencodable %v", err)
	}
	return string(b)
}

func canonAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unencodable %v", err)
	}
	return string(b)
}
