package localdb_test

// The in-memory client model, continued: the writes a person makes
// (create, update, delete) and the errors the model expects from calls.

import (
	"errors"

	"casefile/localdb"
	"casefile/model"
)

// errKind names the error the model expects from a call.
type errKind int

const (
	errNone errKind = iota
	errProblems
	errNotFound
	errDeleted
	errInConflict
	errNoOp
	errSending
	errNoConflict
	errResolution // a resolution model.Conflict.Resolve refuses
	errRecordGone
	errMatterNotEmpty
	errExists // an import of a record already here (of another collection, or with other values)
	errNothingToUndo
)

func (k errKind) String() string {
	return [...]string{"none", "problems", "not found", "deleted", "in conflict", "no op", "sending", "no conflict", "bad resolution", "record gone", "matter not empty", "exists", "nothing to undo"}[k]
}

// matches reports whether err is the kind the model expects.
func (k errKind) matches(err error) bool {
	var probs model.Problems
	switch k {
	case errNone:
		return err == nil
	case errProblems:
		return errors.As(err, &probs)
	case errNotFound:
		return errors.Is(err, localdb.ErrNotFound)
	case errDeleted:
		return errors.Is(err, localdb.ErrDeleted)
	case errInConflict:
		return errors.Is(err, localdb.ErrInConflict)
	case errNoOp:
		return errors.Is(err, localdb.ErrNoOp)
	case errSending:
		return errors.Is(err, localdb.ErrSending)
	case errNoConflict:
		return errors.Is(err, localdb.ErrConflict)
	case errResolution:
		return err != nil
	case errRecordGone:
		return errors.Is(err, localdb.ErrRecordGone)
	case errMatterNotEmpty:
		return errors.Is(err, localdb.ErrMatterNotEmpty)
	case errExists:
		return errors.Is(err, localdb.ErrExists)
	case errNothingToUndo:
		return errors.Is(err, localdb.ErrNothingToUndo)
	}
	return false
}

// create models Create: it returns the normalised fields the record gets.
func (m *clientModel) create(coll string, fields model.Fields) (model.Fields, errKind) {
	col := m.col(coll)
	if col == nil {
		return nil, errProblems
	}
	norm, probs := col.Validate(fields, true)
	if len(probs) > 0 {
		return nil, errProblems
	}
	if mid, ok := norm[model.MatterField].(string); ok && !m.refOK(mid) {
		return nil, errProblems
	}
	return norm, errNone
}

// created adds the record Create or Import wrote under id.
func (m *clientModel) created(id, coll string, norm model.Fields) {
	r := &mRecord{id: id, coll: coll, fields: norm.Clone(), state: model.StatePending}
	r.matter = model.MatterOf(coll, id, norm)
	m.recs[id] = r
	m.ops = append(m.ops, &mOp{record: id, coll: coll, kind: model.OpCreate, fields: norm.Clone(), state: localdb.OpPending})
	// An imported record may have left this device with changes queued
	// (a failed op held back): the create queues behind them, and the
	// record shows their state.
	r.state = m.deriveState(id)
	m.journal++
}

// writable is the error an edit or delete of id meets before its fields are looked at.
func (m *clientModel) writable(id string) (*mRecord, errKind) {
	r := m.recs[id]
	switch {
	case r == nil:
		return nil, errNotFound
	case r.state == model.StateConflict:
		return nil, errInConflict
	case r.deleted:
		return nil, errDeleted
	}
	return r, errNone
}

// importOver models ImportWith of notes whose ids are all records here:
// the whole batch is refused, changing nothing, at the first item the
// schema, a reference or the policy refuses; otherwise a record with the
// same values is left as it is, and one with other values is kept
// (ExistingSkip) or takes them by an edit (ExistingUpdate). It returns
// the error expected and the counts.
func (m *clientModel) importOver(items []localdb.ImportItem, policy localdb.ExistingPolicy) (errKind, localdb.ImportCounts) {
	col := m.col("note")
	norms := make([]model.Fields, len(items))
	for i, it := range items {
		norm, probs := col.Validate(it.Fields, true)
		if len(probs) > 0 {
			return errProblems, localdb.ImportCounts{}
		}
		norms[i] = norm
	}
	var counts localdb.ImportCounts
	var updates []int
	for i, it := range items {
		if mid, _ := norms[i][model.MatterField].(string); !m.refOK(mid) {
			return errProblems, localdb.ImportCounts{}
		}
		r := m.recs[it.ID]
		if r.coll != col.Name {
			return errExists, localdb.ImportCounts{}
		}
		differ := false
		for j := range col.Fields {
			name := col.Fields[j].Name
			differ = differ || !model.Equal(r.fields[name], norms[i][name])
		}
		switch {
		case !r.deleted && !differ:
			counts.Identical++
			continue
		case policy == localdb.ExistingSkip:
			counts.Kept++
			continue
		case policy == localdb.ExistingStop || r.deleted:
			return errExists, localdb.ImportCounts{}
		case r.state == model.StateConflict:
			return errInConflict, localdb.ImportCounts{}
		}
		counts.Updated++
		updates = append(updates, i)
	}
	m.notUndoable = true
	defer func() { m.notUndoable = false }()
	for _, i := range updates {
		changes := model.Fields{}
		r := m.recs[items[i].ID]
		for j := range col.Fields {
			name := col.Fields[j].Name
			if !model.Equal(r.fields[name], norms[i][name]) {
				changes[name] = cloneValue(norms[i][name])
			}
		}
		m.update(items[i].ID, changes)
	}
	return errNone, counts
}

// update models Update.
func (m *clientModel) update(id string, changes model.Fields) errKind {
	r, ek := m.writable(id)
	if ek != errNone {
		return ek
	}
	changed, ek := m.updateRow(r, changes)
	if changed {
		m.journal++
	}
	return ek
}

// updateRow models updateRow: the changes that differ from what r shows
// are queued, unless the schema or a reference refuses them. It reports
// whether any did.
func (m *clientModel) updateRow(r *mRecord, changes model.Fields) (bool, errKind) {
	id := r.id
	norm, probs := m.col(r.coll).Validate(changes, false)
	if len(probs) > 0 {
		return false, errProblems
	}
	if mid, ok := norm[model.MatterField].(string); ok && mid != "" && !m.refOK(mid) {
		return false, errProblems
	}
	changed, before := model.Fields{}, model.Fields{}
	for k, v := range norm {
		if !model.Equal(r.fields[k], v) || (r.deleted && v != nil) {
			changed[k], before[k] = v, cloneValue(r.fields[k])
		}
	}
	if len(changed) == 0 {
		return false, errNone
	}
	m.enqueue(r, model.OpUpdate, changed, before)
	m.recompute(id)
	m.local(&mChange{kind: localdb.JournalUpdate, record: id, coll: r.coll, before: before.Clone(), after: changed.Clone()})
	return true, errNone
}

// delete models Delete.
func (m *clientModel) delete(id string) errKind {
	r, ek := m.writable(id)
	if ek != errNone {
		return ek
	}
	if len(m.held(r)) > 0 {
		return errMatterNotEmpty
	}
	m.local(&mChange{kind: localdb.JournalDelete, record: id, coll: r.coll, before: r.fields.Clone()})
	m.enqueue(r, model.OpDelete, nil, nil)
	m.recompute(id)
	m.journal++
	return errNone
}

// held lists the live records a matter shows as its own, by id as
// DeleteCascade takes them, or nothing for another record.
func (m *clientModel) held(r *mRecord) []string {
	if r.coll != model.MatterCollection {
		return nil
	}
	var out []string
	for _, id := range sortedKeys(m.recs) {
		r2 := m.recs[id]
		if id != r.id && !r2.deleted && r2.matter == r.id {
			out = append(out, id)
		}
	}
	return out
}

// deleteCascade models DeleteCascade: the matter's records first, then
// the matter; a record in conflict stops it with nothing written.
func (m *clientModel) deleteCascade(id string) (int, errKind) {
	r, ek := m.writable(id)
	if ek != errNone {
		return 0, ek
	}
	if r.coll != model.MatterCollection {
		return 0, errResolution // any error: not a matter
	}
	held := m.held(r)
	for _, h := range held {
		if _, ek := m.writable(h); ek != errNone {
			return 0, ek
		}
	}
	m.groups++
	for _, h := range held {
		m.local(&mChange{kind: localdb.JournalDelete, record: h, coll: m.recs[h].coll, before: m.recs[h].fields.Clone(), group: m.groups, cascade: true})
		m.enqueue(m.recs[h], model.OpDelete, nil, nil)
		m.recompute(h)
		m.journal++
	}
	m.local(&mChange{kind: localdb.JournalDelete, record: id, coll: r.coll, before: r.fields.Clone(), group: m.groups})
	m.enqueue(r, model.OpDelete, nil, nil)
	m.recompute(id)
	m.journal++
	return len(held), errNone
}
