package localdb

import (
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

func mustUndo(t testing.TB, db *DB) Undone {
	t.Helper()
	u, err := db.Undo(bg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUndoWalksBackThroughEdits(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A", "body": "one"})
	mustUpdate(t, db, n, model.Fields{"title": "B"})
	mustUpdate(t, db, n, model.Fields{"title": "C", "body": "two"})

	u := mustUndo(t, db)
	if u.Action != UndoReverted || u.Change.Kind != JournalUpdate || len(u.Fields) != 2 || len(u.Kept) != 0 {
		t.Fatalf("first undo = %+v", u)
	}
	if r := mustGet(t, db, n); r.Fields["title"] != "B" || r.Fields["body"] != "one" || r.State != model.StatePending {
		t.Fatalf("after the first undo: %+v", r)
	}
	u = mustUndo(t, db)
	if u.Action != UndoReverted || len(u.Fields) != 1 || u.Fields[0] != "title" {
		t.Fatalf("second undo = %+v", u)
	}
	if r := mustGet(t, db, n); r.Fields["title"] != "A" || r.Fields["body"] != "one" {
		t.Fatalf("after the second undo: %+v", r)
	}
	// Every edit folded into one never-sent op; it now changes nothing
	// the server does not already hold, and says so by its values.
	ops := opsOf(t, db, n)
	if len(ops) != 1 || ops[0].Kind != model.OpUpdate || ops[0].Fields["title"] != "A" || ops[0].Fields["body"] != "one" {
		t.Fatalf("queue after two undos: %+v", ops)
	}
	// The synced note was pulled, not made here: nothing is left to undo,
	// not even the matter (pulled too).
	if _, err := db.Undo(bg); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("a third undo: %v, want ErrNothingToUndo", err)
	}
	j := journalOf(t, db, n)
	if j[0].Kind != JournalUndo || j[0].Undoes == 0 || j[0].OpID != ops[0].OpID {
		t.Fatalf("the undo's journal entry %+v", j[0])
	}
}

func TestUndoOfCreateDeletesAndOfDeleteRestores(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "fresh"})
	u := mustUndo(t, db)
	if u.Action != UndoDeleted || u.Change.Kind != JournalCreate || u.Record.ID != n.ID {
		t.Fatalf("undo of a create = %+v", u)
	}
	// Never sent: the delete cancels the create and the record is gone.
	if _, err := db.Get(bg, n.ID); !errors.Is(err, ErrNotFound) || len(opsOf(t, db, n.ID)) != 0 {
		t.Fatalf("an undone unsent create left %v, ops %+v", err, opsOf(t, db, n.ID))
	}

	s := syncedNote(t, db, m, 3, model.Fields{"title": "kept", "body": "text"})
	if err := db.Delete(bg, s); err != nil {
		t.Fatal(err)
	}
	u = mustUndo(t, db)
	if u.Action != UndoRestored || u.Record.Deleted || u.Record.Fields["body"] != "text" {
		t.Fatalf("undo of a delete = %+v", u)
	}
	ops := opsOf(t, db, s)
	if len(ops) != 2 || ops[0].Kind != model.OpDelete || ops[1].Kind != model.OpCreate || ops[1].BaseVersion != 3 {
		t.Fatalf("a restore is a new op behind the delete: %+v", ops)
	}
	// The delete is applied (tombstone version 4); the restore moves onto it.
	answer(t, db, protocol.OpResult{OpID: ops[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: s, Collection: "note", MatterID: m, Version: 4, Deleted: true}})
	if ops = opsOf(t, db, s); len(ops) != 1 || ops[0].BaseVersion != 4 {
		t.Fatalf("the restore did not move onto the tombstone: %+v", ops)
	}
	if r := mustGet(t, db, s); r.Deleted || r.Fields["title"] != "kept" {
		t.Fatalf("restored record %+v", r)
	}
	// Undoing further walks back to the create undone above: it is
	// marked taken back, so the next one is the undo's own... nothing.
	if _, err := db.Undo(bg); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo with every change taken back: %v", err)
	}
}

func TestUndoOfDeleteAfterTheServerAppliedItRestoresOnTheTombstone(t *testing.T) {
	db, m := openWithMatter(t)
	s := syncedNote(t, db, m, 5, model.Fields{"title": "gone", "body": "b"})
	if err := db.Delete(bg, s); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: s, Collection: "note", MatterID: m, Version: 6, Deleted: true}})
	if _, err := db.Get(bg, s); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an acknowledged delete left the record: %v", err)
	}
	u := mustUndo(t, db)
	if u.Action != UndoRestored {
		t.Fatalf("undo = %+v", u)
	}
	ops := opsOf(t, db, s)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].BaseVersion != 6 || ops[0].Fields["title"] != "gone" {
		t.Fatalf("restore op %+v", ops)
	}
	if r := mustGet(t, db, s); r.Deleted || r.State != model.StatePending || r.Fields["body"] != "b" {
		t.Fatalf("restored record %+v", r)
	}
	hits, err := db.Search(bg, "gone", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("the restored record is not searchable: %v %v", hits, err)
	}
}

func TestUndoKeepsFieldsSomeoneElseChangedSince(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A", "body": "one"})
	mustUpdate(t, db, n, model.Fields{"title": "mine", "body": "mine too"})
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3,
			Fields: model.Fields{"matter_id": m, "title": "mine", "body": "mine too"}}})
	// Another user changes the body; the pull brings it.
	pull(t, db, 10, serverRecord(n, "note", m, 4, model.Fields{"matter_id": m, "title": "mine", "body": "theirs"}))
	u := mustUndo(t, db)
	if u.Action != UndoReverted || len(u.Fields) != 1 || u.Fields[0] != "title" || len(u.Kept) != 1 || u.Kept[0] != "body" {
		t.Fatalf("undo = %+v", u)
	}
	r := mustGet(t, db, n)
	if r.Fields["title"] != "A" || r.Fields["body"] != "theirs" {
		t.Fatalf("after the undo %+v", r.Fields)
	}
	ops := opsOf(t, db, n)
	if len(ops) != 1 || ops[0].BaseVersion != 4 || len(ops[0].Fields) != 1 {
		t.Fatalf("the undo's op is an edit of title on the current version: %+v", ops)
	}
}

func TestUndoRefusesARecordInConflictAndChangesNothing(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "B"})
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultConflict, ConflictFields: []string{"title"},
		Record: &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3, Fields: model.Fields{"matter_id": m, "title": "C"}}})
	before := dump(t, db)
	if _, err := db.Undo(bg); !errors.Is(err, ErrInConflict) {
		t.Fatalf("undo of a record in conflict: %v", err)
	}
	if after := dump(t, db); after != before {
		t.Fatalf("a refused undo changed the database:\n%s\n--- became ---\n%s", before, after)
	}
}

func TestUndoOfCascadeRestoresTheMatterAndItsRecords(t *testing.T) {
	db, m := openWithMatter(t)
	a := syncedNote(t, db, m, 2, model.Fields{"title": "a"})
	b := syncedNote(t, db, m, 3, model.Fields{"title": "b"})
	if _, err := db.DeleteCascade(bg, m); err != nil {
		t.Fatal(err)
	}
	u := mustUndo(t, db)
	if u.Action != UndoRestored || u.Record.ID != m || u.Also != 2 || !slices.Equal(slices.Sorted(slices.Values(u.Restored)), slices.Sorted(slices.Values([]string{a, b}))) {
		t.Fatalf("undo of a cascade = %+v", u)
	}
	for _, id := range []string{m, a, b} {
		if r := mustGet(t, db, id); r.Deleted {
			t.Fatalf("%s still deleted", id)
		}
	}
	if _, err := db.Undo(bg); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("after the cascade's undo: %v", err)
	}
}

func TestUndoAfterTheRecordWasDeletedElsewhereOnlyMarksIt(t *testing.T) {
	db := openTest(t)
	editedThenDeletedElsewhere(t, db)
	u := mustUndo(t, db)
	if u.Action != UndoNothing || u.Change.Kind != JournalUpdate {
		t.Fatalf("undo = %+v", u)
	}
	if len(outbox(t, db)) != 0 {
		t.Fatalf("an undo with nothing to take back queued %+v", outbox(t, db))
	}
}

// TestUndoLeavesARecordOfAnotherCollectionUnderTheSameID: an edit's
// record was deleted elsewhere and left the device; a backup imported
// since brought a record of another collection under the same id (the
// server refuses its create, but it is here). The undo of the edit finds
// nothing of its own to take back: it must not set the other record's
// field of the same name back.
func TestUndoLeavesARecordOfAnotherCollectionUnderTheSameID(t *testing.T) {
	db := openTest(t)
	n := editedThenDeletedElsewhere(t, db)
	if err := db.Import(bg, "matter", []ImportItem{{ID: n, Fields: model.Fields{"title": "B"}}}); err != nil {
		t.Fatal(err)
	}
	u := mustUndo(t, db)
	if u.Action != UndoNothing || u.Change.Kind != JournalUpdate || u.OtherCollection != "matter" {
		t.Fatalf("undo = %+v", u)
	}
	if got, want := u.Sentence(db.Schema()), "Undid the edit of note “"; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "”: nothing to take back, its id now holds a matter.") {
		t.Errorf("sentence %q", got)
	}
	if r := mustGet(t, db, n); r.Collection != "matter" || r.Fields["title"] != "B" {
		t.Fatalf("the matter under the note's id after the undo: %+v", r)
	}
	if ops := opsOf(t, db, n); len(ops) != 1 || ops[0].Kind != model.OpCreate {
		t.Fatalf("the undo queued a change of the matter: %+v", ops)
	}
}

// editedThenDeletedElsewhere gives db a note whose title this device
// changed from A to B, the server applied, and another device then
// deleted: the note has left the device. It returns the note's id.
func editedThenDeletedElsewhere(t *testing.T, db *DB) string {
	t.Helper()
	m := syncedMatter(t, db)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "B"})
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3, Fields: model.Fields{"matter_id": m, "title": "B"}}})
	rec := serverRecord(n, "note", m, 4, nil)
	rec.Deleted = true
	pull(t, db, 20, rec)
	return n
}

// TestUndoOfCascadeWhoseMatterIsBackRestoresItsRecords: a matter deleted
// with its records, its delete refused and discarded (the matter is back)
// while its records' deletes went through, one to the server, one with a
// create the server never had. The undo brings the records back, and
// says so: it reported "nothing", from the matter alone, so a person was
// told nothing came back and the screens did not show the records.
func TestUndoOfCascadeWhoseMatterIsBackRestoresItsRecords(t *testing.T) {
	db, m := openWithMatter(t)
	sent := syncedNote(t, db, m, 2, model.Fields{"title": "sent"})
	unsent := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "never sent"}).ID
	if _, err := db.DeleteCascade(bg, m); err != nil {
		t.Fatal(err)
	}
	var results []protocol.OpResult
	for _, o := range nextBatch(t, db, 10) {
		switch o.RecordID {
		case sent:
			results = append(results, protocol.OpResult{OpID: o.OpID, Result: model.ResultApplied,
				Record: &protocol.Record{ID: sent, Collection: "note", MatterID: m, Version: 3, Deleted: true}})
		case m:
			results = append(results, protocol.OpResult{OpID: o.OpID, Result: model.ResultRejected, Code: protocol.CodeMatterNotEmpty,
				Message: "The matter still holds records."})
		}
	}
	answer(t, db, results...)
	for _, o := range outbox(t, db) {
		if o.RecordID == m {
			if err := db.DiscardOp(bg, o.OpID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := mustGet(t, db, m); r.Deleted {
		t.Fatalf("the matter whose delete was discarded is still deleted: %+v", r)
	}
	u := mustUndo(t, db)
	if u.Action != UndoRestored || u.Record.ID != m || u.Also != 2 ||
		!slices.Equal(slices.Sorted(slices.Values(u.Restored)), slices.Sorted(slices.Values([]string{sent, unsent}))) {
		t.Fatalf("undo = %+v; want the two records restored", u)
	}
	if s := u.Sentence(testSchema(t)); !strings.Contains(s, "back with the 2 record(s)") {
		t.Fatalf("the undo says %q", s)
	}
	for _, id := range []string{m, sent, unsent} {
		if r := mustGet(t, db, id); r.Deleted {
			t.Fatalf("%s still deleted", id)
		}
	}
}

// TestUndoOfCascadeWithARefusedCreateABackupHolds: a matter's cascade
// delete took a create the server had refused and a backup holds; the
// create went back in the queue ahead of its delete, its retry journaled
// in the middle of the cascade's entries. The undo stopped at that entry:
// it brought the matter back with only the records deleted after it, and
// left the rest deleted, for later undos one at a time. The whole cascade
// comes back at once.
func TestUndoOfCascadeWithARefusedCreateABackupHolds(t *testing.T) {
	db, m := openWithMatter(t)
	first := syncedNote(t, db, m, 2, model.Fields{"title": "first"})
	refused := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "refused"}).ID
	var results []protocol.OpResult
	for _, o := range nextBatch(t, db, 10) {
		results = append(results, protocol.OpResult{OpID: o.OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: "No such matter."})
	}
	answer(t, db, results...)
	if n, err := db.MarkBackedUp(bg); err != nil || n != 1 {
		t.Fatalf("mark backed up = %d, %v", n, err)
	}
	last := syncedNote(t, db, m, 3, model.Fields{"title": "last"})
	if n, err := db.DeleteCascade(bg, m); err != nil || n != 3 {
		t.Fatalf("delete cascade = %d, %v", n, err)
	}
	if ops := opsOf(t, db, refused); len(ops) != 2 || ops[0].Kind != model.OpCreate || ops[0].State != OpPending || ops[1].Kind != model.OpDelete {
		t.Fatalf("the refused create's ops after the cascade: %+v; want its create again, the delete behind", ops)
	}
	u := mustUndo(t, db)
	if u.Action != UndoRestored || u.Record.ID != m || u.Also != 3 ||
		!slices.Equal(slices.Sorted(slices.Values(u.Restored)), slices.Sorted(slices.Values([]string{first, refused, last}))) {
		t.Fatalf("undo = %+v; want the matter and its three records", u)
	}
	for _, id := range []string{m, first, refused, last} {
		if r := mustGet(t, db, id); r.Deleted {
			t.Fatalf("%s still deleted after the undo", id)
		}
	}
	// Next comes the change made before the cascade, no leftover of it.
	if u, err := db.Undo(bg); err != nil || u.Change.Kind != JournalCreate || u.Change.RecordID != refused {
		t.Fatalf("the next undo = %+v, %v; want the create of the refused note", u, err)
	}
}

// leftWithConflict deletes a synced note whose delete then meets a newer
// server change (a delete_edit conflict, which brings version 6), and
// drops its matter, taking the note off the device; the matter comes back
// without it (the pull not done yet).
func leftWithConflict(t *testing.T) (*DB, string) {
	t.Helper()
	db, s, _ := leftWithConflictNoting(t)
	return db, s
}

// leftWithConflictNoting is leftWithConflict, and returns what puts the
// note's journal values back as they were before it left.
func leftWithConflictNoting(t *testing.T) (_ *DB, _ string, unredact func()) {
	t.Helper()
	db, m := openWithMatter(t)
	s := syncedNote(t, db, m, 5, model.Fields{"title": "kept", "body": "b"})
	if err := db.Delete(bg, s); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultConflict, ConflictFields: []string{"body"},
		Message: "The record changed on the server.",
		Record:  &protocol.Record{ID: s, Collection: "note", MatterID: m, Version: 6, Fields: model.Fields{"matter_id": m, "title": "kept", "body": "theirs"}}})
	unredact = journalValues(t, db, s)
	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, s); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the record is still here after its matter was dropped: %v", err)
	}
	pull(t, db, 11, serverRecord(m, "matter", m, 1, model.Fields{"title": "Smith v Jones"}))
	return db, s, unredact
}

// TestUndoOfDeleteOutOfSight: the note left the device out of sight, live
// on the server (body "theirs", version 6) as far as this device knows.
// Restoring it here would put a create on a copy the device no longer
// holds — one that labelled the fields before the delete with version 6
// let a later edit overwrite "theirs" unseen. The undo takes nothing
// back and says why; the failed delete stays for the person to discard.
func TestUndoOfDeleteOutOfSight(t *testing.T) {
	db, s := leftWithConflict(t)
	before := opsOf(t, db, s)
	u := mustUndo(t, db)
	if u.Action != UndoNothing || !u.OutOfSight || u.Change.RecordID != s {
		t.Fatalf("undo = %+v; want nothing taken back, out of sight", u)
	}
	if _, err := db.Get(bg, s); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the record came back: %v", err)
	}
	if after := opsOf(t, db, s); len(after) != len(before) || len(after) != 1 || after[0].State != OpFailed || after[0].Kind != model.OpDelete {
		t.Fatalf("ops after the undo: %+v; want the failed delete alone, as before", after)
	}
	if got := u.Sentence(testSchema(t)); !strings.Contains(got, "stopped showing it to you") {
		t.Fatalf("sentence %q", got)
	}
	if _, err := db.Undo(bg); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("a second undo: %v; the delete was taken back (as nothing)", err)
	}
}

// TestUndoOfDeleteAfterItsConflictLeftTheDeviceBeforeGoneRecords: a record
// that left before gone_records kept copies is restored on the last
// version the journal knows. The conflict's entry once did not keep the
// version its answer brought, so the restore went on 5, which the server
// would refuse as an id conflict were its record deleted on 6.
func TestUndoOfDeleteAfterItsConflictLeftTheDeviceBeforeGoneRecords(t *testing.T) {
	db, s, unredact := leftWithConflictNoting(t)
	// Then, nothing was kept of the copy it left with, and its values
	// stayed in the journal (journal_redaction came after).
	if _, err := db.w.ExecContext(bg, "DELETE FROM gone_records WHERE record_id = ?", s); err != nil {
		t.Fatal(err)
	}
	unredact()
	if u := mustUndo(t, db); u.Action != UndoRestored {
		t.Fatalf("undo = %+v", u)
	}
	var restore *OutboxOp
	for _, o := range opsOf(t, db, s) {
		if o.Kind == model.OpCreate {
			restore = &o
		}
	}
	if restore == nil || restore.BaseVersion != 6 {
		t.Fatalf("the restore: %+v; want a create on version 6, the conflict's", restore)
	}
}

// TestUndoOfDeleteRestoresOnTheCopyItLeftWith: an edit not sent yet, then
// the delete (which takes the edit's place in the queue). The server
// deletes its own copy, version 6, which never held the edit, and the
// note leaves the device. The undo brings the note back with the edit, on
// the tombstone's copy: the copy before the delete held the edit, and
// labelled version 6 it would claim the server had it.
func TestUndoOfDeleteRestoresOnTheCopyItLeftWith(t *testing.T) {
	db, m := openWithMatter(t)
	s := syncedNote(t, db, m, 5, model.Fields{"title": "kept", "body": "server's"})
	if _, err := db.Update(bg, s, model.Fields{"body": "mine, unsent"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(bg, s); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	if len(b) != 1 || b[0].Kind != model.OpDelete {
		t.Fatalf("batch %+v; want the delete alone", b)
	}
	server := model.Fields{"matter_id": m, "title": "kept", "body": "server's"}
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: s, Collection: "note", MatterID: m, Version: 6, Deleted: true, Fields: server}})
	if _, err := db.Get(bg, s); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the deleted note is still here: %v", err)
	}
	if u := mustUndo(t, db); u.Action != UndoRestored {
		t.Fatalf("undo = %+v", u)
	}
	rec, err := db.getRow(bg, db.r, s)
	if err != nil {
		t.Fatal(err)
	}
	if rec.version != 6 || !rec.baseDeleted || rec.base["body"] != "server's" {
		t.Fatalf("restored on v%d deleted=%v %v; want the tombstone's copy, v6, body \"server's\"", rec.version, rec.baseDeleted, rec.base)
	}
	if rec.fields["body"] != "mine, unsent" || rec.deleted {
		t.Fatalf("the note shows %v deleted=%v; want it back with the edit", rec.fields, rec.deleted)
	}
	ops := opsOf(t, db, s)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].BaseVersion != 6 || ops[0].Fields["body"] != "mine, unsent" {
		t.Fatalf("ops %+v; want the restore's create on 6, with the edit", ops)
	}
}

// TestUndoOfDeleteWhoseIDLastLeftAsAnotherCollection: a note deleted here
// left the device; a backup imported since brought a matter under the
// same id, whose create the server refused, and the person discarded it,
// so it left too. The copy the id last left with is the matter's: the
// note's delete has nothing to take back, as when the matter is still
// here, rather than a note restored on the matter's copy.
func TestUndoOfDeleteWhoseIDLastLeftAsAnotherCollection(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	if err := db.Delete(bg, n); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3, Deleted: true, Fields: model.Fields{"matter_id": m, "title": "A"}}})
	if err := db.Import(bg, "matter", []ImportItem{{ID: n, Fields: model.Fields{"title": "B"}}}); err != nil {
		t.Fatal(err)
	}
	b = nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultRejected, Code: protocol.CodeIDConflict, Message: "A record with this id already exists."})
	if err := db.DiscardOp(bg, b[0].OpID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, n); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the discarded matter is still here: %v", err)
	}
	u := mustUndo(t, db)
	if u.Action != UndoNothing || u.Change.Kind != JournalDelete || u.OtherCollection != "matter" {
		t.Fatalf("undo = %+v; want nothing taken back, the id last a matter's", u)
	}
	if _, err := db.Get(bg, n); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the undo brought something back under the id: %v", err)
	}
	if ops := outbox(t, db); len(ops) != 0 {
		t.Fatalf("the undo queued %+v", ops)
	}
}

// TestUndoOfDeleteOutOfSightAfterAResync: a delete the server refused and
// the person discarded leaves the note here, synced, and the delete still
// the newest change; a full resync then no longer shows the note, which
// leaves the device out of sight as a lost matter's records do. The undo
// has nothing to take back.
func TestUndoOfDeleteOutOfSightAfterAResync(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	if err := db.Delete(bg, n); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultRejected, Code: protocol.CodeReadOnly, Message: "Read only."})
	if err := db.DiscardOp(bg, b[0].OpID); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, db, n); r.Deleted {
		t.Fatalf("the note is deleted after its refused delete was discarded: %+v", r)
	}
	if err := db.ResetCursor(bg); err != nil {
		t.Fatal(err)
	}
	pull(t, db, 50, serverRecord(m, "matter", m, 1, model.Fields{"title": "M"}))
	if _, err := db.Get(bg, n); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the note the resync did not show is still here: %v", err)
	}
	u := mustUndo(t, db)
	if u.Action != UndoNothing || !u.OutOfSight || u.Change.Kind != JournalDelete {
		t.Fatalf("undo = %+v; want nothing taken back, out of sight", u)
	}
	if ops := outbox(t, db); len(ops) != 0 {
		t.Fatalf("the undo queued %+v", ops)
	}
}

// journalValues notes the record's journal values as they are now, and
// returns what puts them back, as a database from before
// journal_redaction kept them when a record left out of sight.
func journalValues(t *testing.T, db *DB, id string) (unredact func()) {
	t.Helper()
	rows, err := db.r.QueryContext(bg, "SELECT seq, before, after FROM journal WHERE record_id = ?", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	kept := map[int64][2]sql.NullString{}
	for rows.Next() {
		var seq int64
		var v [2]sql.NullString
		if err := rows.Scan(&seq, &v[0], &v[1]); err != nil {
			t.Fatal(err)
		}
		kept[seq] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := db.w.ExecContext(bg, "DROP TRIGGER journal_no_update"); err != nil {
			t.Fatal(err)
		}
		for seq, v := range kept {
			if _, err := db.w.ExecContext(bg, "UPDATE journal SET before = ?, after = ? WHERE seq = ?", v[0], v[1], seq); err != nil {
				t.Fatal(err)
			}
		}
	}
}
