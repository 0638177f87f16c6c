package localdb_test

// The in-memory model of the client store that TestStoreModel checks the
// real database against. It restates the store's documented rules in the
// plainest form: a record shows its server copy overlaid by its queued ops
// in queue order (failed ops left out unless the server never had the
// record); edits coalesce only into an op never sent or refused; the worst
// op state is the record's state; the journal only grows.

import (
	"errors"
	"slices"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// mOp is one queued op as the model expects it.
type mOp struct {
	id       string // "" until the store names it (a new or renewed op)
	record   string
	coll     string
	kind     model.OpKind
	fields   model.Fields
	baseVals model.Fields // each changed field's value before the change
	// baseView is each changed field's value in the server copy the
	// change was made on (baseVals may show this device's own unsent
	// value instead); only the blind-overwrite check reads it.
	baseView model.Fields
	baseVer  int64
	state    localdb.OpState
	attempts int
	code     protocol.Code // error code of a failed op
	due      bool          // a retrying op whose next attempt has come
	// maybeSent: an attempt may have reached the server (a lost answer,
	// a crash mid-send).
	maybeSent bool
	// restoreMine, for the restore of a deleted record, holds the fields
	// this device changed itself: every other field must come back as
	// the server last held it.
	restoreMine map[string]bool
}

// heldBack models opRow.heldBack: failed here, after it may have reached
// the server.
func (o *mOp) heldBack() bool {
	return o.state == localdb.OpFailed && (o.code == protocol.CodeAccessRevoked || o.code == protocol.CodeGone) && o.maybeSent
}

// mRecord is one record row as the model expects it.
type mRecord struct {
	id, coll, matter string
	base             model.Fields // the server's copy; nil until the server has it
	version          int64
	baseDeleted      bool
	fields           model.Fields // what the user sees
	deleted          bool
	state            model.SyncState
	mark             bool // not yet seen by a running full resync
}

// serverMatter is the matter the server holds the record in; one it never
// had goes by the matter shown.
func (r *mRecord) serverMatter() string {
	if m := model.MatterOf(r.coll, r.id, r.base); r.base != nil && m != "" {
		return m
	}
	return r.matter
}

// clientModel is the whole expected state of one local database.
type clientModel struct {
	schema    *model.Schema
	recs      map[string]*mRecord
	ops       []*mOp // queue order
	conflicts map[string]*model.Conflict
	cursor    int64
	resync    bool
	journal   int // expected journal length
}

func newClientModel(s *model.Schema) *clientModel {
	return &clientModel{schema: s, recs: map[string]*mRecord{}, conflicts: map[string]*model.Conflict{}}
}

func (m *clientModel) col(name string) *model.Collection {
	c, _ := m.schema.Collection(name)
	return c
}

// recordOps returns a record's ops in queue order.
func (m *clientModel) recordOps(id string) []*mOp {
	var out []*mOp
	for _, o := range m.ops {
		if o.record == id {
			out = append(out, o)
		}
	}
	return out
}

func (m *clientModel) opByID(id string) *mOp {
	for _, o := range m.ops {
		if o.id == id {
			return o
		}
	}
	return nil
}

func (m *clientModel) removeOp(o *mOp) {
	m.ops = slices.DeleteFunc(m.ops, func(x *mOp) bool { return x == o })
}

var stateRank = map[localdb.OpState]int{localdb.OpPending: 1, localdb.OpSyncing: 2, localdb.OpRetrying: 3, localdb.OpFailed: 4, localdb.OpConflict: 5}

func (m *clientModel) deriveState(id string) model.SyncState {
	if m.conflicts[id] != nil {
		return model.StateConflict
	}
	worst := localdb.OpState("")
	for _, o := range m.recordOps(id) {
		if stateRank[o.state] > stateRank[worst] {
			worst = o.state
		}
	}
	if worst == "" {
		return model.StateSynced
	}
	return model.SyncState(worst)
}

// refreshState recomputes only a record's state.
func (m *clientModel) refreshState(id string) {
	if r := m.recs[id]; r != nil {
		r.state = m.deriveState(id)
	}
}

// recompute rebuilds a record from its server copy and its ops; a record
// with no op and no live server copy is purged.
func (m *clientModel) recompute(id string) {
	r := m.recs[id]
	if r == nil {
		return
	}
	ops := m.recordOps(id)
	if len(ops) == 0 && (r.base == nil || r.baseDeleted) {
		m.purge(id)
		return
	}
	fields, deleted := model.Fields{}, true
	if r.base != nil {
		fields, deleted = r.base.Clone(), r.baseDeleted
	}
	for _, o := range ops {
		shown := o.state != localdb.OpFailed
		if !shown && r.base != nil {
			continue
		}
		switch o.kind {
		case model.OpCreate:
			fields = overlay(model.Fields{}, o.fields)
			if shown {
				deleted = false
			}
		case model.OpUpdate:
			fields = overlay(fields, o.fields)
		case model.OpDelete:
			if shown {
				deleted = true
			}
		}
	}
	r.fields, r.deleted = fields, deleted
	if mid := model.MatterOf(r.coll, r.id, fields); mid != "" {
		r.matter = mid
	}
	r.state = m.deriveState(id)
}

func (m *clientModel) purge(id string) {
	delete(m.recs, id)
	delete(m.conflicts, id) // the conflict row goes by cascade
}

func overlay(fields, changes model.Fields) model.Fields {
	if fields == nil {
		fields = model.Fields{}
	}
	for k, v := range changes {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = cloneValue(v)
		}
	}
	return fields
}

func cloneValue(v any) any {
	if tags, ok := v.([]string); ok {
		return slices.Clone(tags)
	}
	return v
}

// hiddenFailedCreate: a record hidden because the server refused its create.
func (m *clientModel) hiddenFailedCreate(r *mRecord) bool {
	if r.base != nil {
		return false
	}
	ops := m.recordOps(r.id)
	if len(ops) == 0 {
		return false
	}
	last := ops[len(ops)-1]
	return last.state == localdb.OpFailed && last.kind == model.OpCreate
}

// enqueue queues a change: it folds into the record's last op while that
// op was never sent or was refused (which then gets a new id), else it
// queues behind.
func (m *clientModel) enqueue(r *mRecord, kind model.OpKind, changes, before model.Fields) {
	ops := m.recordOps(r.id)
	if n := len(ops); n > 0 {
		last := ops[n-1]
		// An op whose outcome the server could not tell is not folded into.
		failed := last.state == localdb.OpFailed && last.code != protocol.CodeOutcomeUnknown && !last.heldBack()
		if failed || (last.state == localdb.OpPending && last.attempts == 0) {
			switch {
			case kind == model.OpDelete && last.kind == model.OpCreate:
				m.removeOp(last)
				return
			case kind == model.OpDelete:
				last.kind, last.fields = model.OpDelete, nil
			case last.kind == model.OpCreate:
				last.fields = overlay(last.fields.Clone(), changes)
				for k := range changes {
					if last.restoreMine != nil {
						last.restoreMine[k] = true
					}
				}
			case last.kind == model.OpDelete:
				last.kind, last.fields, last.baseVals = model.OpUpdate, changes.Clone(), before.Clone()
				last.baseView = m.view(r, changes)
			default:
				if last.fields == nil {
					last.fields = model.Fields{}
				}
				if last.baseVals == nil {
					last.baseVals = model.Fields{}
				}
				if last.baseView == nil {
					last.baseView = model.Fields{}
				}
				for k, v := range changes {
					last.fields[k] = cloneValue(v)
					if _, seen := last.baseVals[k]; !seen {
						last.baseVals[k] = cloneValue(before[k])
					}
					if _, seen := last.baseView[k]; !seen {
						last.baseView[k] = cloneValue(r.base[k])
					}
				}
			}
			if failed {
				last.id, last.state, last.attempts, last.code, last.due, last.maybeSent = "", localdb.OpPending, 0, "", false, false
			}
			return
		}
	}
	m.ops = append(m.ops, &mOp{record: r.id, coll: r.coll, kind: kind, fields: changes.Clone(),
		baseVals: before.Clone(), baseView: m.view(r, changes), baseVer: r.version, state: localdb.OpPending})
}

// view is the server copy's value of each changed field.
func (m *clientModel) view(r *mRecord, changes model.Fields) model.Fields {
	out := model.Fields{}
	for k := range changes {
		out[k] = cloneValue(r.base[k])
	}
	return out
}

// refErr is the problem a ref to a matter would raise, or "".
func (m *clientModel) refOK(matterID string) bool {
	r := m.recs[matterID]
	return r != nil && r.coll == model.MatterCollection && !r.deleted
}

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
)

func (k errKind) String() string {
	return [...]string{"none", "problems", "not found", "deleted", "in conflict", "no op", "sending", "no conflict", "bad resolution", "record gone", "matter not empty"}[k]
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

// created adds the record Create wrote under id.
func (m *clientModel) created(id, coll string, norm model.Fields) {
	r := &mRecord{id: id, coll: coll, fields: norm.Clone(), state: model.StatePending}
	r.matter = model.MatterOf(coll, id, norm)
	m.recs[id] = r
	m.ops = append(m.ops, &mOp{record: id, coll: coll, kind: model.OpCreate, fields: norm.Clone(), state: localdb.OpPending})
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
	case r.deleted && !m.hiddenFailedCreate(r):
		return nil, errDeleted
	}
	return r, errNone
}

// update models Update.
func (m *clientModel) update(id string, changes model.Fields) errKind {
	r, ek := m.writable(id)
	if ek != errNone {
		return ek
	}
	norm, probs := m.col(r.coll).Validate(changes, false)
	if len(probs) > 0 {
		return errProblems
	}
	if mid, ok := norm[model.MatterField].(string); ok && mid != "" && !m.refOK(mid) {
		return errProblems
	}
	changed, before := model.Fields{}, model.Fields{}
	for k, v := range norm {
		if !model.Equal(r.fields[k], v) || (r.deleted && v != nil) {
			changed[k], before[k] = v, cloneValue(r.fields[k])
		}
	}
	if len(changed) == 0 {
		return errNone
	}
	m.enqueue(r, model.OpUpdate, changed, before)
	m.recompute(id)
	m.journal++
	return errNone
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
	for _, h := range held {
		m.enqueue(m.recs[h], model.OpDelete, nil, nil)
		m.recompute(h)
		m.journal++
	}
	m.enqueue(r, model.OpDelete, nil, nil)
	m.recompute(id)
	m.journal++
	return len(held), errNone
}

// nextBatch models NextBatch: due ops, oldest first, one per record.
func (m *clientModel) nextBatch(limit int) []*mOp {
	var out []*mOp
	seen := map[string]bool{}
	for _, o := range m.ops {
		first := !seen[o.record]
		seen[o.record] = true
		if len(out) == limit || !first {
			continue
		}
		if o.state == localdb.OpPending || (o.state == localdb.OpRetrying && o.due) {
			out = append(out, o)
		}
	}
	for _, o := range out {
		o.state, o.attempts = localdb.OpSyncing, o.attempts+1
		m.refreshState(o.record)
	}
	return out
}

// markRetry models MarkRetry.
func (m *clientModel) markRetry(ids []string, due bool) {
	n := 0
	for _, id := range ids {
		o := m.opByID(id)
		if o == nil || o.state != localdb.OpSyncing {
			continue
		}
		o.state, o.due, o.maybeSent = localdb.OpRetrying, due, true
		m.refreshState(o.record)
		n++
	}
	if n > 0 {
		m.journal++
	}
}

// reopen models what Open does after a crash: ops left syncing are due again.
func (m *clientModel) reopen() {
	n := 0
	for _, o := range m.ops {
		if o.state == localdb.OpSyncing {
			o.state, o.due, o.maybeSent = localdb.OpRetrying, true, true
			m.refreshState(o.record)
			n++
		}
	}
	if n > 0 {
		m.journal++
	}
}
