package localdb

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

func TestPullInsertsAndUpdatesSyncedRecords(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A", "tags": []any{"x", "y"}, "minutes": nil})
	r := mustGet(t, db, id)
	if r.State != model.StateSynced || r.Version != 1 || !model.Equal(r.Fields["tags"], []string{"x", "y"}) {
		t.Fatalf("pulled %+v", r)
	}
	pull(t, db, 2, serverRecord(id, "note", m, 2, model.Fields{"matter_id": m, "title": "B"}))
	if r := mustGet(t, db, id); r.Version != 2 || r.Fields["title"] != "B" || r.Fields["tags"] != nil {
		t.Fatalf("updated %+v", r)
	}
	// An older version than the one held is ignored.
	pull(t, db, 3, serverRecord(id, "note", m, 1, model.Fields{"matter_id": m, "title": "Old"}))
	if r := mustGet(t, db, id); r.Version != 2 || r.Fields["title"] != "B" {
		t.Fatalf("an older version overwrote a newer one: %+v", r)
	}
	if n, _ := db.Count(bg, ListQuery{Text: "B", Collection: "note"}); n != 1 {
		t.Fatal("pulled record not searchable")
	}
}

// Remote changes never clobber unsent local edits: the edits stay on top.
func TestPullNeverClobbersPendingEdits(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A", "body": "old"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	pull(t, db, 2, serverRecord(id, "note", m, 2, model.Fields{"matter_id": m, "title": "Theirs", "body": "new"}))
	r := mustGet(t, db, id)
	if r.Fields["title"] != "Mine" || r.Fields["body"] != "new" || r.Version != 2 || r.State != model.StatePending {
		t.Fatalf("record %+v", r)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].BaseVersion != 1 || ops[0].Fields["title"] != "Mine" {
		t.Fatalf("the op must keep its own base: %+v", ops)
	}
}

// A pull never brings back a record deleted here, and a server tombstone
// deletes here unless unsent ops need it.
func TestPullNeverResurrects(t *testing.T) {
	db, m := openWithMatter(t)
	mine := syncedNote(t, db, m, 1, model.Fields{"title": "deleted here"})
	if err := db.Delete(bg, mine); err != nil {
		t.Fatal(err)
	}
	pull(t, db, 2, serverRecord(mine, "note", m, 2, model.Fields{"matter_id": m, "title": "edited there"}))
	if r := mustGet(t, db, mine); !r.Deleted || r.State != model.StatePending {
		t.Fatalf("a pull brought back a record deleted here: %+v", r)
	}

	theirs := syncedNote(t, db, m, 1, model.Fields{"title": "deleted there"})
	tomb := serverRecord(theirs, "note", m, 2, nil)
	tomb.Deleted = true
	pull(t, db, 3, tomb)
	if _, err := db.Get(bg, theirs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("server tombstone did not delete: %v", err)
	}
	pull(t, db, 4, tomb) // repeated tombstone for a record not here: nothing happens
	if _, err := db.Get(bg, theirs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a tombstone created a record: %v", err)
	}

	edited := syncedNote(t, db, m, 1, model.Fields{"title": "edited here", "body": "b"})
	mustUpdate(t, db, edited, model.Fields{"status": "open"})
	tomb = serverRecord(edited, "note", m, 2, nil)
	tomb.Deleted = true
	pull(t, db, 5, tomb)
	r := mustGet(t, db, edited)
	if !r.Deleted || r.Version != 2 || r.State != model.StatePending {
		t.Fatalf("tombstone over unsent edits: %+v", r)
	}
	if ops := opsOf(t, db, edited); len(ops) != 1 {
		t.Fatalf("unsent edit lost: %+v", ops)
	}
	// The edit then meets the deletion as a conflict, with what it needs to restore.
	op := nextBatch(t, db, 10)
	var sent OutboxOp
	for _, o := range op {
		if o.RecordID == edited {
			sent = o
		}
	}
	conflictOn(t, db, sent, &protocol.Record{ID: edited, Collection: "note", Version: 2, Deleted: true})
	restored, err := db.Resolve(bg, edited, model.Resolution{All: model.TakeMine})
	if err != nil {
		t.Fatal(err)
	}
	if restored.Deleted || restored.Fields["body"] != "b" || restored.Fields["status"] != "open" {
		t.Fatalf("restore %+v", restored)
	}
}

func TestDroppedMatterKeepsUnsentWorkAsFailed(t *testing.T) {
	db, m := openWithMatter(t)
	other := syncedMatter(t, db)
	synced := syncedNote(t, db, m, 1, model.Fields{"title": "synced"})
	edited := syncedNote(t, db, m, 1, model.Fields{"title": "edited"})
	mustUpdate(t, db, edited, model.Fields{"body": "unsent words"})
	created := mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "unsent task"})
	keep := syncedNote(t, db, other, 1, model.Fields{"title": "other matter"})

	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{m, synced, edited, created.ID} {
		if _, err := db.Get(bg, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("record %s of a dropped matter still here: %v", id, err)
		}
	}
	wantState(t, db, keep, model.StateSynced)
	ops := outbox(t, db)
	if len(ops) != 2 {
		t.Fatalf("unsent ops lost: %+v", ops)
	}
	for _, o := range ops {
		if o.State != OpFailed || o.ErrorCode != protocol.CodeAccessRevoked || o.LastError == "" {
			t.Fatalf("op of a dropped matter %+v", o)
		}
	}
	if got := nextBatch(t, db, 10); len(got) != 0 {
		t.Fatalf("ops of a dropped matter went out: %+v", got)
	}
	rep, err := db.Doctor(bg, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("doctor calls revoked ops a problem: %+v %v", rep, err)
	}
	// No record is left to count them: the status still does.
	if st, _ := db.Status(bg); st.Cursor != 10 || st.FailedOps != 2 || st.Counts[model.StateFailed] != 0 {
		t.Fatalf("cursor %d, %d failed ops, %d failed records", st.Cursor, st.FailedOps, st.Counts[model.StateFailed])
	}
	// Removed records follow the same rule.
	mustUpdate(t, db, keep, model.Fields{"status": "open"})
	if err := db.ApplyPull(bg, protocol.PullResponse{Removed: []protocol.Removal{{ID: keep, MatterID: other}}, Cursor: 11}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, keep); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed record still here: %v", err)
	}
	if ops := outbox(t, db); len(ops) != 3 || ops[2].ErrorCode != protocol.CodeAccessRevoked {
		t.Fatalf("ops %+v", ops)
	}
}

// A matter is dropped by the matter the server holds its records in, not
// by the one an unsent move shows here: a note moved out of the dropped
// matter goes (its move kept as failed), a note moved into it stays.
func TestDroppedMatterGoesByServerMatterNotUnsentMove(t *testing.T) {
	db := openTest(t)
	lost, kept := syncedMatter(t, db), syncedMatter(t, db)
	outOfLost := syncedNote(t, db, lost, 1, model.Fields{"title": "moved out"})
	intoLost := syncedNote(t, db, kept, 1, model.Fields{"title": "moved in"})
	mustUpdate(t, db, outOfLost, model.Fields{"matter_id": kept})
	mustUpdate(t, db, intoLost, model.Fields{"matter_id": lost})

	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{lost}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, outOfLost); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a note the server holds in the dropped matter is still here: %v", err)
	}
	if ops := opsOf(t, db, outOfLost); len(ops) != 1 || ops[0].State != OpFailed || ops[0].ErrorCode != protocol.CodeAccessRevoked {
		t.Fatalf("the unsent move out of the dropped matter: %+v", ops)
	}
	r := mustGet(t, db, intoLost)
	if r.Fields["matter_id"] != lost || r.State != model.StatePending {
		t.Fatalf("the note moved into the dropped matter shows %v in state %s", r.Fields["matter_id"], r.State)
	}
	ops := opsOf(t, db, intoLost)
	if len(ops) != 1 || ops[0].State != OpPending {
		t.Fatalf("the unsent move into the dropped matter: %+v", ops)
	}
	if err := db.DiscardOp(bg, ops[0].OpID); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, db, intoLost); r.Fields["matter_id"] != kept || r.State != model.StateSynced {
		t.Fatalf("after the discard the note shows %v in state %s, want the server's copy", r.Fields["matter_id"], r.State)
	}
	rep, err := db.Doctor(bg, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("doctor: %+v %v", rep, err)
	}
}

// A change kept after its matter was revoked cannot be retried while its
// record is away: the retry would clear the code that explains the missing
// record and could only be refused again. Once access comes back and a pull
// brings the record, it can.
func TestRetryOfRevokedChangeWaitsForItsRecord(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "B"})
	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	op := outbox(t, db)[0]
	if err := db.RetryOp(bg, op.OpID); !errors.Is(err, ErrRecordGone) {
		t.Fatalf("retry of a change whose record went with its matter: %v", err)
	}
	if got, err := db.RetryAll(bg); err != nil || got != 0 {
		t.Fatalf("retry all: %d, %v", got, err)
	}
	if ops := outbox(t, db); len(ops) != 1 || ops[0].OpID != op.OpID || ops[0].State != OpFailed || ops[0].ErrorCode != protocol.CodeAccessRevoked {
		t.Fatalf("a refused retry changed the op: %+v, was %+v", ops, op)
	}
	rep, err := db.Doctor(bg, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("doctor: %+v %v", rep, err)
	}
	// Access comes back.
	pull(t, db, 11, serverRecord(m, "matter", m, 1, model.Fields{"title": "Smith v Jones"}),
		serverRecord(n, "note", m, 1, model.Fields{"matter_id": m, "title": "A"}))
	if err := db.RetryOp(bg, op.OpID); err != nil {
		t.Fatalf("retry once the record is back: %v", err)
	}
	if r := mustGet(t, db, n); r.Fields["title"] != "B" || r.State != model.StatePending {
		t.Fatalf("after the retry the note shows %v in state %s", r.Fields["title"], r.State)
	}
}

// A conflict answered without its record, as a server before hidden
// conflicts were refused sends a conflict again once its record is out
// of the user's sight, is no delete: the change fails as "no such record",
// with nothing to review and no restore offered.
func TestConflictWithoutItsRecordIsNotADelete(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "B"})
	sent := nextBatch(t, db, 10)
	given := []protocol.OpResult{{OpID: sent[0].OpID, Result: model.ResultConflict, ConflictFields: []string{"title"},
		Message: "The record changed on the server since your version; review the overlapping fields."}}
	if err := db.ApplyPushResults(bg, given); err != nil {
		t.Fatal(err)
	}
	if given[0].Result != model.ResultRejected || given[0].Code != protocol.CodeNotFound {
		t.Fatalf("the answer is counted as %s %s, want rejected not_found", given[0].Result, given[0].Code)
	}
	confs, err := db.Conflicts(bg)
	if err != nil || len(confs) != 0 {
		t.Fatalf("conflicts: %+v, %v; want none", confs, err)
	}
	ops := outbox(t, db)
	if len(ops) != 1 || ops[0].State != OpFailed || ops[0].ErrorCode != protocol.CodeNotFound ||
		!strings.Contains(ops[0].LastError, "no longer shows you this record") {
		t.Fatalf("after the answer: %+v", ops)
	}
	r, err := db.Get(bg, n)
	if err != nil || r.Deleted || r.State != model.StateFailed || r.Fields["title"] != "A" || ops[0].Fields["title"] != "B" {
		t.Fatalf("the note: %+v, %v; want it failed, its change kept, not deleted", r, err)
	}
}

// An answer to a change sent just before its matter was revoked leaves it
// kept as revoked: a refusal or a conflict with no record left to review
// against would otherwise replace the code that tells Doctor why the
// record is missing.
func TestAnswerAfterRevocationKeepsChangeRevoked(t *testing.T) {
	for _, res := range []protocol.OpResult{
		{Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: "No such record."},
		{Result: model.ResultConflict, ConflictFields: []string{"title"}},
	} {
		t.Run(string(res.Result), func(t *testing.T) {
			db := openTest(t)
			m := syncedMatter(t, db)
			n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
			mustUpdate(t, db, n, model.Fields{"title": "B"})
			sent := nextBatch(t, db, 10)
			if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
				t.Fatal(err)
			}
			res.OpID = sent[0].OpID
			if err := db.ApplyPushResults(bg, []protocol.OpResult{res}); err != nil {
				t.Fatal(err)
			}
			ops := outbox(t, db)
			if len(ops) != 1 || ops[0].State != OpFailed || ops[0].ErrorCode != protocol.CodeAccessRevoked {
				t.Fatalf("after the answer: %+v", ops)
			}
			rep, err := db.Doctor(bg, false)
			if err != nil || len(rep.Problems) != 0 {
				t.Fatalf("doctor: %+v %v", rep, err)
			}
		})
	}
}

func TestCursorNeverMovesBack(t *testing.T) {
	db := openTest(t)
	pull(t, db, 50)
	pull(t, db, 40)
	st, err := db.Status(bg)
	if err != nil || st.Cursor != 50 || st.LastSync.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	if v, _ := db.Meta(bg, "cursor"); v != "50" {
		t.Fatalf("cursor %q", v)
	}
}

// A full resync keeps every queued op and conflict and removes only what the
// server no longer has.
func TestResetCursorKeepsOps(t *testing.T) {
	db, m := openWithMatter(t)
	seen := syncedNote(t, db, m, 1, model.Fields{"title": "seen again"})
	gone := syncedNote(t, db, m, 1, model.Fields{"title": "gone from the server"})
	edited := syncedNote(t, db, m, 1, model.Fields{"title": "edited"})
	mustUpdate(t, db, edited, model.Fields{"body": "unsent"})
	created := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "unsent"})
	conflicted := syncedNote(t, db, m, 1, model.Fields{"title": "c"})
	mustUpdate(t, db, conflicted, model.Fields{"title": "mine"})
	for _, o := range nextBatch(t, db, 10) {
		if o.RecordID == conflicted {
			conflictOn(t, db, o, &protocol.Record{ID: conflicted, Collection: "note", Version: 2,
				Fields: model.Fields{"matter_id": m, "title": "theirs"}}, "title")
		} else {
			if err := db.MarkRetry(bg, []string{o.OpID}, "offline", o.CreatedAt); err != nil {
				t.Fatal(err)
			}
		}
	}
	opsBefore := outbox(t, db)
	pull(t, db, 100)
	if err := db.ResetCursor(bg); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Status(bg); st.Cursor != 0 {
		t.Fatalf("cursor after reset %d", st.Cursor)
	}
	page1 := protocol.PullResponse{Records: []protocol.Record{serverRecord(m, "matter", m, 1, model.Fields{"title": "M"})}, Cursor: 60, More: true}
	if err := db.ApplyPull(bg, page1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, gone); err != nil {
		t.Fatalf("a record went before the resync ended: %v", err)
	}
	page2 := protocol.PullResponse{Records: []protocol.Record{serverRecord(seen, "note", m, 1, model.Fields{"matter_id": m, "title": "seen again"})}, Cursor: 120}
	if err := db.ApplyPull(bg, page2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a record the server no longer has survived the resync: %v", err)
	}
	for _, id := range []string{m, seen, created.ID} {
		if _, err := db.Get(bg, id); err != nil {
			t.Fatalf("record %s lost in the resync: %v", id, err)
		}
	}
	// Records the server once had and no longer shows go, though they
	// hold unsent changes: their copies may be of a matter the user lost.
	// The changes stay, failed, explained in the journal.
	for _, id := range []string{edited, conflicted} {
		if _, err := db.Get(bg, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("record %s, no longer shown by the server, survived the resync: %v", id, err)
		}
		j, err := db.Journal(bg, JournalQuery{RecordID: id})
		if err != nil || len(j) == 0 || j[0].Kind != "removed" {
			t.Fatalf("the journal does not explain why %s went: %+v %v", id, j, err)
		}
	}
	opsAfter := outbox(t, db)
	if len(opsAfter) != len(opsBefore) {
		t.Fatalf("ops lost: before %d after %d", len(opsBefore), len(opsAfter))
	}
	for i := range opsBefore {
		want := opsBefore[i].State
		if r := opsBefore[i].RecordID; r == edited || r == conflicted {
			if opsAfter[i].ErrorCode != protocol.CodeGone {
				t.Errorf("op of %s kept with code %q, want %q", r, opsAfter[i].ErrorCode, protocol.CodeGone)
			}
			want = OpFailed
		}
		if opsAfter[i].OpID != opsBefore[i].OpID || opsAfter[i].State != want || !model.Equal(opsAfter[i].Fields, opsBefore[i].Fields) {
			t.Fatalf("op changed in the resync: %+v -> %+v", opsBefore[i], opsAfter[i])
		}
	}
	if _, err := db.Conflict(bg, conflicted); err == nil {
		t.Fatalf("the conflict of a record the server no longer shows is still open")
	}
	// After the resync, a later pull does not delete anything.
	pull(t, db, 130)
	if _, err := db.Get(bg, seen); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointSoonCopiesTheWAL: CheckpointSoon has the background
// checkpointer copy the WAL back into the database file at once, not at
// its next turn (every checkpointEvery commits, or a minute), and without
// the caller waiting for it.
func TestCheckpointSoonCopiesTheWAL(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	var recs []protocol.Record
	for i := range 400 {
		recs = append(recs, serverRecord(model.NewID(), "note", m, 1,
			model.Fields{"matter_id": m, "title": fmt.Sprint("note ", i), "body": strings.Repeat("a body of words ", 40)}))
	}
	pull(t, db, 2, recs...)
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	if err := db.CheckpointSoon(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); size() < before+200_000; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes (%d before): the WAL was not copied back", size(), before)
		}
	}
}
