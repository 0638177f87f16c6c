package localdb_test

import (
	"errors"
	"maps"

	"pgregory.net/rapid"

	"casefile/localdb"
	"casefile/model"
)

// mChange is a change made on this device that Undo may take back, as its
// journal entry holds it: a create, an edit or a delete.
type mChange struct {
	kind          localdb.JournalKind
	record, coll  string
	before, after model.Fields
	// group: a cascade delete's number, on the matter's delete and on the
	// deletes of the records it took with it (0: none); cascade marks the
	// records'.
	group   int
	cascade bool
	undone  bool
}

// local notes a change made on this device that Undo may take back.
func (m *clientModel) local(c *mChange) {
	if !m.notUndoable {
		m.changes = append(m.changes, c)
	}
}

// clone is a deep copy of the model, for a step that changes all of it or
// nothing.
func (m *clientModel) clone() *clientModel {
	c := *m
	c.recs = make(map[string]*mRecord, len(m.recs))
	for k, r := range m.recs {
		r2 := *r
		r2.base, r2.fields = r.base.Clone(), r.fields.Clone()
		c.recs[k] = &r2
	}
	c.ops = make([]*mOp, len(m.ops))
	for i, o := range m.ops {
		o2 := *o
		o2.fields, o2.baseVals, o2.baseView = o.fields.Clone(), o.baseVals.Clone(), o.baseView.Clone()
		o2.restoreMine = maps.Clone(o.restoreMine)
		c.ops[i] = &o2
	}
	c.conflicts = maps.Clone(m.conflicts)
	c.gone = maps.Clone(m.gone)
	c.leftOutOfSight = maps.Clone(m.leftOutOfSight)
	c.changes = make([]*mChange, len(m.changes))
	for i, ch := range m.changes {
		ch2 := *ch
		c.changes[i] = &ch2
	}
	return &c
}

// errGoneRestore: the undo would restore a record no longer on the
// device that left it other than by a purge the model saw, so that the
// model does not know its last version; the step skips it.
var errGoneRestore = errors.New("restore of a record gone from the device")

// undo models Undo: the newest change made here not taken back, with, for
// a matter's cascade delete, the records it took; all of it or nothing.
// It returns how many of the cascade's records it restored (Also).
func (m *clientModel) undo() (int, errKind, error) {
	ti := m.newest()
	if ti < 0 {
		return 0, errNothingToUndo, nil
	}
	group := []*mChange{m.changes[ti]}
	if g := m.changes[ti]; g.kind == localdb.JournalDelete && g.group != 0 {
		for j := ti - 1; j >= 0 && m.changes[j].group == g.group && m.changes[j].cascade && !m.changes[j].undone; j-- {
			group = append(group, m.changes[j])
		}
	}
	try := m.clone()
	also := 0
	for i := range group {
		restored, ek, err := try.undoOne(try.changes[ti-i])
		if err != nil || ek != errNone {
			return 0, ek, err
		}
		if restored && i > 0 {
			also++
		}
	}
	*m = *try
	return also, errNone, nil
}

// newest is the index in changes of the newest change not taken back,
// or -1.
func (m *clientModel) newest() int {
	for i := len(m.changes) - 1; i >= 0; i-- {
		if !m.changes[i].undone {
			return i
		}
	}
	return -1
}

// undoOne models undoOne: takes back ch in m, or says why it cannot, and
// reports whether it restored ch's record.
func (m *clientModel) undoOne(ch *mChange) (restored bool, _ errKind, _ error) {
	r := m.recs[ch.record]
	gone := r == nil
	if !gone && r.coll != ch.coll {
		// Its record left, and one of another collection came under its
		// id: nothing is the change's to take back.
		ch.undone = true
		m.journal++
		return false, errNone, nil
	}
	if !gone && r.state == model.StateConflict {
		return false, errInConflict, nil
	}
	live := !gone && !r.deleted
	switch ch.kind {
	case localdb.JournalCreate:
		if live {
			if len(m.held(r)) > 0 {
				return false, errMatterNotEmpty, nil
			}
			m.enqueue(r, model.OpDelete, nil, nil)
			m.recompute(ch.record)
		}
	case localdb.JournalUpdate:
		if live {
			back := model.Fields{}
			for f, v := range ch.after {
				if model.Equal(r.fields[f], v) {
					back[f] = cloneValue(ch.before[f])
				}
			}
			m.notUndoable = true
			_, ek := m.updateRow(r, back)
			m.notUndoable = false
			if ek != errNone {
				return false, ek, nil
			}
		}
	case localdb.JournalDelete:
		if live {
			break
		}
		var left mGone
		if gone {
			known := false
			if left, known = m.gone[ch.record]; !known {
				return false, errNone, errGoneRestore
			}
			if left.coll != ch.coll {
				// A record of another collection came under its id and
				// left since: nothing is the change's.
				break
			}
			if left.outOfSight {
				// The server keeps it where this user no longer sees it:
				// nothing comes back.
				break
			}
		}
		norm, ek := m.create(ch.coll, ch.before)
		if ek != errNone {
			return false, ek, nil
		}
		if gone {
			// Its tombstone comes back as it left, on the server's copy
			// (the copy before the delete standing in for none known);
			// the restore is a create on it (a server that kept the
			// tombstone takes it as a restore, one that never had it as
			// a create).
			r = &mRecord{id: ch.record, coll: ch.coll, matter: model.MatterOf(ch.coll, ch.record, norm), version: left.version,
				baseDeleted: true, deleted: true, state: model.StatePending}
			if left.version > 0 {
				r.base = left.base.Clone()
				if r.base == nil {
					r.base = ch.before.Clone()
				}
			}
			m.recs[ch.record] = r
		}
		m.ops = append(m.ops, &mOp{record: ch.record, coll: ch.coll, kind: model.OpCreate, fields: norm,
			baseVer: r.version, state: localdb.OpPending})
		m.recompute(ch.record)
		restored = true
	}
	ch.undone = true
	m.journal++
	return restored, errNone, nil
}

// Undo takes back the newest change made on this device, and checks what
// it says it did.
func (sm *storeMachine) Undo(t *rapid.T) {
	if _, _, skip := sm.m.clone().undo(); errors.Is(skip, errGoneRestore) {
		t.Skip("the undo would restore a record gone from the device")
	}
	goneDelete, outOfSight, matterBack := false, false, false
	other := "" // the collection of the record that holds the id, or last left under it
	if i := sm.m.newest(); i >= 0 {
		ch := sm.m.changes[i]
		r := sm.m.recs[ch.record]
		goneDelete = ch.kind == localdb.JournalDelete && r == nil
		g := sm.m.gone[ch.record]
		outOfSight = goneDelete && g.outOfSight && g.coll == ch.coll
		matterBack = ch.kind == localdb.JournalDelete && ch.group != 0 && r != nil && !r.deleted
		switch {
		case r != nil && r.coll != ch.coll:
			other = r.coll
		case goneDelete && g.coll != "" && g.coll != ch.coll:
			other = g.coll
		}
	}
	also, want, _ := sm.m.undo()
	got, err := sm.db.Undo(ctx)
	t.Logf("> undo %s %s: %s, %d more: %v", got.Change.Kind, short(got.Change.RecordID), got.Action, got.Also, err)
	expect(t, "undo", want, err)
	if err == nil && (got.Also != also || len(got.Restored) != also) {
		t.Fatalf("undo restored %d records with the change (%v), want %d", got.Also, got.Restored, also)
	}
	if err == nil && also > 0 && got.Action != localdb.UndoRestored {
		t.Fatalf("undo restored %d records with the change and says %q", also, got.Action)
	}
	if err == nil && got.OutOfSight != outOfSight {
		t.Fatalf("undo says the record is out of sight: %v, want %v", got.OutOfSight, outOfSight)
	}
	if err == nil && got.OtherCollection != other {
		t.Fatalf("undo says its id holds a record of %q, want %q", got.OtherCollection, other)
	}
	if err == nil {
		stats.undos.Add(1)
	}
	if err == nil && other != "" {
		stats.otherCollection.Add(1)
	}
	switch {
	case err == nil && outOfSight:
		stats.goneOutOfSight.Add(1)
	case err == nil && goneDelete:
		stats.goneRestores.Add(1)
	}
	if err == nil && matterBack && also > 0 {
		stats.cascadeMatterBack.Add(1)
	}
}

// leaveOutOfSight notes that record id left the device out of its user's
// sight: the journal's entries of it lose their values (redactLeft), so
// an undo of an edit of it made before finds nothing to take back, even
// once the record is back.
func (m *clientModel) leaveOutOfSight(id string) {
	m.leftOutOfSight[id] = true
	for _, ch := range m.changes {
		if ch.record == id && ch.kind == localdb.JournalUpdate {
			ch.before, ch.after = nil, nil
		}
	}
}
