package localdb_test

// The in-memory model of the client store that TestStoreModel checks the
// real database against. It restates the store's documented rules in the
// plainest form: a record shows its server copy overlaid by its queued ops
// in queue order (failed ops left out unless the server never had the
// record); edits coalesce only into an op never sent or refused; the worst
// op state is the record's state; the journal only grows.

import (
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
	// imported: an import's create holding the backup's values, not
	// refolded or in conflict since: nothing folds into it, and it takes
	// the server's copy.
	imported bool
	// claimedFrom: the state a batch took the op from, to which an
	// Unclaim puts it back.
	claimedFrom localdb.OpState
	// refused: the op was refused (or kept failed for lost access) at
	// least once; only the stats read it.
	refused bool
	// exported: a create queued when the device's records were exported
	// as a backup (MarkBackedUp), nothing folded into it since; like an
	// import's, nothing folds into it.
	exported bool
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
	// changes are the changes made here that Undo may take back, oldest
	// first; notUndoable is set while edits that are not such changes
	// (an import's, an undo's own) are modelled; groups numbers cascade
	// deletes.
	changes     []*mChange
	notUndoable bool
	groups      int
	// gone is, per record that left the device, the server's copy it
	// left with: an undo of its delete restores it on that copy.
	gone map[string]mGone
	// leftOutOfSight are the records that ever left out of sight: their
	// journal entries may have lost their values (redactLeft).
	leftOutOfSight map[string]bool
}

// mGone models a row of gone_records: a tombstone's (or a never-synced
// record's) version and fields, or a record out of the user's sight.
type mGone struct {
	coll       string
	version    int64
	base       model.Fields
	outOfSight bool
}

func newClientModel(s *model.Schema) *clientModel {
	return &clientModel{schema: s, recs: map[string]*mRecord{}, conflicts: map[string]*model.Conflict{}, gone: map[string]mGone{},
		leftOutOfSight: map[string]bool{}}
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
		m.purge(id, false)
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
			// A create the server refused stays in sight, failed, with
			// what was typed: the person fixes it and sends it again, or
			// discards it; hiding it would hide the work.
			deleted = false
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

func (m *clientModel) purge(id string, outOfSight bool) {
	if r := m.recs[id]; r != nil {
		g := mGone{coll: r.coll, version: r.version, outOfSight: outOfSight}
		if !outOfSight {
			g.base = r.base.Clone()
		} else {
			m.leaveOutOfSight(id)
		}
		m.gone[id] = g
	}
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

// enqueue queues a change: it folds into the record's last op while that
// op was never sent or was refused (which then gets a new id), else it
// queues behind.
func (m *clientModel) enqueue(r *mRecord, kind model.OpKind, changes, before model.Fields) {
	ops := m.recordOps(r.id)
	if n := len(ops); n > 0 {
		last := ops[n-1]
		// An op whose outcome the server could not tell is not folded into.
		failed := last.state == localdb.OpFailed && last.code != protocol.CodeOutcomeUnknown && !last.heldBack()
		if failed && last.kind == model.OpCreate && (last.imported || last.exported) &&
			last.code != protocol.CodeValidation && last.code != protocol.CodeIDConflict {
			// A backup holding the refused create may have brought its
			// record to the server: it goes again, the change behind it.
			last.id, last.state, last.attempts, last.code, last.due, last.maybeSent = "", localdb.OpPending, 0, "", false, false
			stats.behindRefused.Add(1)
			m.journal++ // the create's retry
			failed = false
		}
		if failed || (last.state == localdb.OpPending && last.attempts == 0 && !last.imported && !last.exported) {
			switch {
			case kind == model.OpDelete && last.kind == model.OpCreate && !(failed && last.code == protocol.CodeIDConflict):
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
				last.exported, last.imported = false, false // it holds values no backup has
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

// nextBatch models NextBatch: due ops, oldest first, one per record.
func (m *clientModel) nextBatch(limit int) []*mOp {
	out := m.due(limit)
	for _, o := range out {
		o.claimedFrom = o.state
		o.state, o.attempts = localdb.OpSyncing, o.attempts+1
		m.refreshState(o.record)
	}
	return out
}

// due returns the ops a batch of limit would take, leaving them as they are.
func (m *clientModel) due(limit int) []*mOp {
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

// markBackedUp models MarkBackedUp: every create still queued (on no
// version) is marked exported; it returns how many were not yet.
func (m *clientModel) markBackedUp() int {
	n := 0
	for _, o := range m.ops {
		if o.kind == model.OpCreate && o.baseVer == 0 && !o.exported {
			o.exported = true
			n++
		}
	}
	return n
}

// repair models a rebuild by casefile doctor --repair: the ops stay, in
// their order, with their ids, attempts and marks; one in flight or in
// conflict is due again as sent (its answer is the server's ledger's);
// the records, conflicts and cursor go, but for a stand-in of each record
// an op changes, deleted and holding nothing, under its ops; the journal
// holds one entry, the restore's.
func (m *clientModel) repair() {
	m.recs, m.conflicts = map[string]*mRecord{}, map[string]*model.Conflict{}
	m.cursor, m.resync, m.journal = 0, false, 1
	m.changes = nil // their journal stays with the file put aside
	var order []string
	for _, o := range m.ops {
		if o.state == localdb.OpSyncing || o.state == localdb.OpConflict {
			o.state, o.due, o.maybeSent = localdb.OpRetrying, true, true
		}
		if m.recs[o.record] == nil {
			m.recs[o.record] = &mRecord{id: o.record, coll: o.coll, deleted: true, fields: model.Fields{}}
			order = append(order, o.record)
		}
	}
	for _, id := range order {
		m.recompute(id)
	}
}

// unclaim models Unclaim of the ops handed out as given (id, attempts):
// each still in flight from that handing out goes back to where the
// batch took it from, as if never taken.
func (m *clientModel) unclaim(handed map[string]int) {
	for _, o := range m.ops {
		if n, ok := handed[o.id]; ok && o.state == localdb.OpSyncing && o.attempts == n {
			o.state, o.attempts = o.claimedFrom, o.attempts-1
			m.refreshState(o.record)
		}
	}
}
