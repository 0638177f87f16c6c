package localdb_test

// The in-memory model of the client store that TestStoreModel checks the
// real database against. It restates the store's documented rules in the
// plainest form: a record shows its server copy overlaid by its queued ops
// in queue order (failed ops left out unless the server never had the
// record); edits coalesce only into an op never sent or refused; the worst
// op state is the record's state; the journal only grows.

import (
	"encoding/json"
	"errors"
	"fmt"
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
	code     string // error code of a failed op
	due      bool   // a retrying op whose next attempt has come
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
		failed := last.state == localdb.OpFailed
		if failed || (last.state == localdb.OpPending && last.attempts == 0) {
			switch {
			case kind == model.OpDelete && last.kind == model.OpCreate:
				m.removeOp(last)
				return
			case kind == model.OpDelete:
				last.kind, last.fields = model.OpDelete, nil
			case last.kind == model.OpCreate:
				last.fields = overlay(last.fields.Clone(), changes)
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
				last.id, last.state, last.attempts, last.code, last.due = "", localdb.OpPending, 0, "", false
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
)

func (k errKind) String() string {
	return [...]string{"none", "problems", "not found", "deleted", "in conflict", "no op", "sending", "no conflict", "bad resolution", "record gone"}[k]
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
	m.enqueue(r, model.OpDelete, nil, nil)
	m.recompute(id)
	m.journal++
	return errNone
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
		o.state, o.due = localdb.OpRetrying, due
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
			o.state, o.due = localdb.OpRetrying, true
			m.refreshState(o.record)
			n++
		}
	}
	if n > 0 {
		m.journal++
	}
}

// normalizeWire is a server record's fields in their local form.
func (m *clientModel) normalizeWire(coll string, in model.Fields) model.Fields {
	col := m.col(coll)
	out := model.Fields{}
	for k, v := range in {
		if col != nil {
			if f, ok := col.Field(k); ok {
				if nv, err := f.Normalize(v); err == nil {
					v = nv
				}
			}
		}
		if v != nil {
			out[k] = cloneValue(v)
		}
	}
	return out
}

// setBase takes a server copy unless the row holds a newer one.
func (m *clientModel) setBase(r *mRecord, sr *protocol.Record) {
	if sr == nil || sr.Version < r.version {
		return
	}
	if !sr.Deleted || sr.Fields != nil {
		r.base = m.normalizeWire(r.coll, sr.Fields)
	}
	if r.base == nil {
		r.base = model.Fields{}
	}
	r.version, r.baseDeleted, r.mark = sr.Version, sr.Deleted, false
}

// applyResults models ApplyPushResults.
func (m *clientModel) applyResults(results []protocol.OpResult) {
	for _, res := range results {
		o := m.opByID(res.OpID)
		if o == nil {
			continue
		}
		switch res.Result {
		case model.ResultApplied, model.ResultMerged:
			m.applyAck(o, res)
		case model.ResultConflict:
			m.applyConflict(o, res)
		case model.ResultRejected:
			m.applyRejected(o, res.Code)
		}
		m.journal++
	}
}

func (m *clientModel) applyAck(o *mOp, res protocol.OpResult) {
	ops := m.recordOps(o.record)
	later := ops[slices.Index(ops, o)+1:]
	m.removeOp(o)
	r := m.recs[o.record]
	if r == nil {
		return
	}
	m.setBase(r, res.Record)
	if res.Record != nil {
		m.rebase(o, later, res)
	}
	m.recompute(o.record)
}

// rebase moves the ops queued behind an acknowledged op onto the version the
// server gave it. An update moves only if every field it changes has, at
// that version, the value its author saw: otherwise it would overwrite a
// change of another device its author never saw. Other ops move when the
// acknowledged op applied on the base they share.
func (m *clientModel) rebase(acked *mOp, later []*mOp, res protocol.OpResult) {
	server := m.normalizeWire(acked.coll, res.Record.Fields)
	for _, o := range later {
		if o.state == localdb.OpConflict || o.baseVer >= res.Record.Version {
			continue
		}
		move := o.baseVer == acked.baseVer && res.Result == model.ResultApplied
		if o.kind == model.OpUpdate && !res.Record.Deleted {
			move = true
			for f := range o.fields {
				seen, ok := o.baseVals[f]
				if !ok || !model.Equal(seen, server[f]) {
					move = false
				}
			}
		}
		if move {
			o.baseVer = res.Record.Version
		}
	}
}

func (m *clientModel) applyRejected(o *mOp, code string) {
	if o.code == localdb.CodeAccessRevoked && m.recs[o.record] == nil {
		code = o.code // answered after the revocation took its record
	}
	o.state, o.code = localdb.OpFailed, code
	m.recompute(o.record)
}

func (m *clientModel) applyConflict(o *mOp, res protocol.OpResult) {
	r := m.recs[o.record]
	if r == nil {
		m.applyRejected(o, "conflict")
		return
	}
	o.state = localdb.OpConflict
	c := &model.Conflict{RecordID: o.record, Collection: o.coll, OpID: o.id, BaseVersion: o.baseVer,
		TheirsVersion: r.version, Mine: o.fields.Clone()}
	serverDeleted := res.Record == nil || res.Record.Deleted
	if res.Record != nil {
		c.TheirsVersion = res.Record.Version
		if !res.Record.Deleted {
			c.Theirs = m.normalizeWire(o.coll, res.Record.Fields)
		}
	}
	base := func(f string) any {
		if v, ok := o.baseVals[f]; ok {
			return cloneValue(v)
		}
		return cloneValue(r.base[f])
	}
	switch {
	case o.kind == model.OpDelete:
		c.Kind = model.ConflictDeleteEdit
		for _, f := range res.ConflictFields {
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Theirs: c.Theirs[f]})
		}
	case serverDeleted:
		c.Kind = model.ConflictEditDeleted
		names := map[string]bool{}
		for _, f := range res.ConflictFields {
			names[f] = true
		}
		for f := range o.fields {
			names[f] = true
		}
		for f := range r.base {
			names[f] = true
		}
		for _, f := range sortedKeys(names) {
			mine, ok := o.fields[f]
			if !ok && o.kind != model.OpCreate {
				mine = base(f)
			}
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Mine: cloneValue(mine)})
		}
	default:
		c.Kind = model.ConflictEdit
		for _, f := range res.ConflictFields {
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Mine: cloneValue(o.fields[f]), Theirs: c.Theirs[f]})
		}
	}
	m.setBase(r, res.Record)
	if res.Record == nil {
		r.baseDeleted = true
	}
	m.conflicts[o.record] = c
	m.recompute(o.record)
}

// pullRecord models one server record of a pull page.
func (m *clientModel) pullRecord(sr protocol.Record) {
	r := m.recs[sr.ID]
	if r != nil && sr.Version < r.version {
		r.mark = false
		return
	}
	queued := len(m.recordOps(sr.ID))
	if sr.Deleted {
		switch {
		case r == nil:
		case queued == 0:
			m.purge(sr.ID)
		default:
			r.baseDeleted, r.version, r.mark = true, sr.Version, false
			m.recompute(sr.ID)
		}
		return
	}
	fields := m.normalizeWire(sr.Collection, sr.Fields)
	if r == nil {
		matter := sr.MatterID
		if matter == "" {
			matter = model.MatterOf(sr.Collection, sr.ID, sr.Fields)
		}
		m.recs[sr.ID] = &mRecord{id: sr.ID, coll: sr.Collection, matter: matter, base: fields,
			version: sr.Version, fields: fields.Clone(), state: model.StateSynced}
		if queued > 0 {
			m.recompute(sr.ID)
		}
		return
	}
	r.base, r.version, r.baseDeleted, r.mark = fields, sr.Version, false, false
	m.recompute(sr.ID)
}

// dropRecords models records removed for lost access: their ops stay, failed.
func (m *clientModel) dropRecords(match func(*mRecord) bool, perRecordJournal bool) {
	for _, id := range sortedKeys(m.recs) {
		r := m.recs[id]
		if !match(r) {
			continue
		}
		for _, o := range m.recordOps(id) {
			o.state, o.code = localdb.OpFailed, localdb.CodeAccessRevoked
		}
		m.purge(id)
		if perRecordJournal {
			m.journal++
		}
	}
}

// applyPull models ApplyPull of one page.
func (m *clientModel) applyPull(p protocol.PullResponse) {
	for _, sr := range p.Records {
		m.pullRecord(sr)
	}
	for _, rm := range p.Removed {
		m.dropRecords(func(r *mRecord) bool { return r.id == rm.ID }, true)
	}
	for _, mid := range p.DroppedMatters {
		m.dropRecords(func(r *mRecord) bool { return r.serverMatter() == mid }, false)
		m.journal++
	}
	if p.Cursor >= m.cursor {
		m.cursor = p.Cursor
	}
	if !p.More && m.resync {
		for id, r := range m.recs {
			if r.mark && len(m.recordOps(id)) == 0 {
				m.purge(id)
			}
		}
		for _, r := range m.recs {
			r.mark = false
		}
		m.resync = false
		m.journal++
	}
	if len(p.Records) > 0 {
		m.journal++
	}
}

// resetCursor models ResetCursor.
func (m *clientModel) resetCursor() {
	m.cursor, m.resync = 0, true
	for _, r := range m.recs {
		r.mark = true
	}
	m.journal++
}

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
	for _, o := range m.recordOps(id) {
		if o.kind != model.OpUpdate || o.state == localdb.OpConflict || o.baseVer >= c.TheirsVersion {
			continue
		}
		move := true
		for f := range o.fields {
			if seen, ok := o.baseVals[f]; !ok || !model.Equal(seen, expected[f]) {
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
		o.id, o.state, o.attempts, o.code, o.due = "", localdb.OpPending, 0, "", false
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
