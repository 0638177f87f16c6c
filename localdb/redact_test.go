package localdb

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// journalHolds returns the entries of the whole journal whose values
// (before or after) mention word.
func journalHolds(t *testing.T, db *DB, word string) []JournalEntry {
	t.Helper()
	all, err := db.Journal(bg, JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []JournalEntry
	for _, e := range all {
		b, err := json.Marshal([]model.Fields{e.Before, e.After})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), word) {
			out = append(out, e)
		}
	}
	return out
}

// A matter the user loses (an ethical wall put up around it) leaves the
// device with every value of its records: the records go, and so do the
// values the journal kept of them (pulled, edited, synced), while the
// entries themselves stay, without values. The user's own unsent work
// stays until it is discarded: the failed op, and the entry it names for
// its fields.
func TestLostMatterTakesItsValuesOutOfTheJournal(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "Privileged strategy", "body": "settle at two"})
	mustUpdate(t, db, n, model.Fields{"body": "settle at three"})
	b := nextBatch(t, db, 10)
	res := answerAll(t, db, b)
	res[0].Record.Version, res[0].Record.Fields = 3, model.Fields{"matter_id": m, "title": "Privileged strategy", "body": "settle at three"}
	answer(t, db, res...)
	draft := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Draft unsent"})
	entriesBefore, err := db.Journal(bg, JournalQuery{RecordID: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(journalHolds(t, db, "settle")) == 0 {
		t.Fatal("the journal held no value of the note before the matter was lost: the test proves nothing")
	}

	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"settle", "Privileged", "Smith v Jones"} {
		if held := journalHolds(t, db, word); len(held) > 0 {
			t.Errorf("after the matter was lost the journal still holds %q in %d entries, the first %+v", word, len(held), held[0])
		}
	}
	entriesAfter, err := db.Journal(bg, JournalQuery{RecordID: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(entriesAfter) != len(entriesBefore) {
		t.Errorf("the note's journal has %d entries after the loss, want the %d it had", len(entriesAfter), len(entriesBefore))
	}
	for i := range min(len(entriesAfter), len(entriesBefore)) {
		a, b := entriesAfter[i], entriesBefore[i]
		if a.Seq != b.Seq || a.Kind != b.Kind || a.Summary != b.Summary || !a.At.Equal(b.At) {
			t.Errorf("entry %d changed beyond its values: %+v, was %+v", b.Seq, a, b)
		}
	}
	// The draft's create is the user's own work, kept as failed.
	ops := opsOf(t, db, draft.ID)
	if len(ops) != 1 || ops[0].State != OpFailed || ops[0].Fields["title"] != "Draft unsent" {
		t.Fatalf("the draft's ops after the loss: %+v; want its create, failed, with its title", ops)
	}
	if held := journalHolds(t, db, "Draft unsent"); len(held) != 1 || held[0].Kind != JournalCreate {
		t.Fatalf("entries holding the draft's title after the loss: %+v; want its create's, which its op names", held)
	}
	if err := db.DiscardOp(bg, ops[0].OpID); err != nil {
		t.Fatal(err)
	}
	if held := journalHolds(t, db, "Draft unsent"); len(held) > 0 {
		t.Fatalf("after its op was discarded the journal still holds the draft's title in %+v", held)
	}

	// Only an entry's values may go: the rest stays append-only.
	for _, q := range []string{"UPDATE journal SET summary = 'x' WHERE record_id = ?",
		"UPDATE journal SET before = NULL, after = NULL, kind = 'update' WHERE record_id = ?",
		"DELETE FROM journal WHERE record_id = ?"} {
		if _, err := db.w.ExecContext(bg, q, n); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v; want refused as append-only", q, err)
		}
	}
}

// A record moved out of the user's sight (a removal in a pull page)
// leaves no value behind either: its "removed" entry names no fields'
// values, and its earlier entries lose theirs. A record deleted on the
// server (its tombstone pulled) keeps its history: it is the user's to
// see, and an undo of its delete restores on it.
func TestRemovedRecordTakesItsValuesOutOfTheJournal(t *testing.T) {
	db, m := openWithMatter(t)
	moved := syncedNote(t, db, m, 2, model.Fields{"title": "Moved away"})
	deleted := syncedNote(t, db, m, 3, model.Fields{"title": "Deleted there"})
	pull(t, db, 4, protocol.Record{ID: deleted, Collection: "note", MatterID: m, Version: 4, Seq: 4, Deleted: true,
		Fields: model.Fields{"matter_id": m, "title": "Deleted there"}})
	if err := db.ApplyPull(bg, protocol.PullResponse{Removed: []protocol.Removal{{ID: moved, MatterID: m}}, Cursor: 5}); err != nil {
		t.Fatal(err)
	}
	if held := journalHolds(t, db, "Moved away"); len(held) > 0 {
		t.Errorf("the journal still holds the moved note's title in %d entries, the first %+v", len(held), held[0])
	}
	entries, err := db.Journal(bg, JournalQuery{RecordID: moved})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 || entries[0].Kind != JournalRemoved {
		t.Fatalf("the moved note's entries: %+v; want its removal after its pull", entries)
	}
	if held := journalHolds(t, db, "Deleted there"); len(held) == 0 {
		t.Errorf("the note deleted on the server lost its history's values; only a record out of sight should")
	}
}

// A record deleted before its matter was lost (its delete synced, its
// tombstone's copy kept for an undo) leaves the user's sight with the
// matter: its values leave the journal and the copy, and an undo of the
// delete says nothing can come back, as the server would refuse it.
func TestRecordDeletedBeforeItsMatterWasLostLeavesWithIt(t *testing.T) {
	db, m := openWithMatter(t)
	n := deletedHere(t, db, m, "Deleted first")
	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	if held := journalHolds(t, db, "Deleted first"); len(held) > 0 {
		t.Errorf("after its matter was lost the journal still holds the deleted note's title in %+v", held)
	}
	rtx, err := db.r.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _, kept, err := db.goneCopy(bg, rtx, n)
	rtx.Rollback()
	if err != nil || !kept || !g.outOfSight || g.fieldsJSON != "" {
		t.Errorf("the note's left copy after its matter was lost: %+v kept %v (%v); want out of sight, no fields", g, kept, err)
	}
	if u := mustUndo(t, db); !u.OutOfSight || u.Action != UndoNothing {
		t.Errorf("undo of the delete after the matter was lost: %+v; want nothing taken back, out of sight", u)
	}
}

// A create answered applied with no record (its matter lost since it was
// first sent: the server took it, and shows it no more) leaves the device
// out of sight: nothing of it stays in the journal, and an undo of it
// takes nothing back.
func TestAppliedOutOfSightTakesItsValuesOutOfTheJournal(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Sent before the wall"})
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied})
	if _, err := db.Get(bg, n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the note applied out of sight is still here: %v", err)
	}
	if held := journalHolds(t, db, "Sent before the wall"); len(held) > 0 {
		t.Errorf("the journal still holds the note's title in %+v", held)
	}
	rtx, err := db.r.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _, kept, err := db.goneCopy(bg, rtx, n.ID)
	rtx.Rollback()
	if err != nil || !kept || !g.outOfSight {
		t.Errorf("the note's left copy: %+v kept %v (%v); want out of sight", g, kept, err)
	}
}

// An answer that comes back after its record left out of sight (the pull
// that dropped its matter overtook the push in flight) writes its entry
// without values: the op's fields, applied or refused, are the record's
// values as much as a pulled copy is. Both answers are drawn: applied
// with the server's copy, and refused.
func TestAnswerAfterItsRecordLeftOutOfSightKeepsNoValues(t *testing.T) {
	for _, result := range []model.OpResult{model.ResultApplied, model.ResultRejected} {
		t.Run(string(result), func(t *testing.T) {
			db, m := openWithMatter(t)
			n := syncedNote(t, db, m, 2, model.Fields{"title": "Walled off", "body": "plain"})
			mustUpdate(t, db, n, model.Fields{"body": "settle at three"})
			b := nextBatch(t, db, 10)
			if len(journalHolds(t, db, "settle")) == 0 {
				t.Fatal("the journal held no value of the edit before the matter was lost: the test proves nothing")
			}
			if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 10}); err != nil {
				t.Fatal(err)
			}
			res := protocol.OpResult{OpID: b[0].OpID, Result: result}
			if result == model.ResultApplied {
				res.Record = &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3,
					Fields: model.Fields{"matter_id": m, "title": "Walled off", "body": "settle at three"}}
			} else {
				res.Code, res.Message = protocol.CodeNotFound, "no such record"
			}
			answer(t, db, res)
			if result == model.ResultRejected {
				// The refused op stays, failed: its named entry with it
				// until the user discards it.
				ops := opsOf(t, db, n)
				if len(ops) != 1 {
					t.Fatalf("ops of the note after its refusal: %+v", ops)
				}
				if err := db.DiscardOp(bg, ops[0].OpID); err != nil {
					t.Fatal(err)
				}
			}
			if held := journalHolds(t, db, "settle"); len(held) > 0 {
				t.Errorf("the journal keeps the edit of a record out of sight in %d entries, the first %+v", len(held), held[0])
			}
			if held := journalHolds(t, db, "Walled off"); len(held) > 0 {
				t.Errorf("the journal keeps the title of a record out of sight in %d entries, the first %+v", len(held), held[0])
			}
		})
	}
}

// A create answered applied with no record while a later change of its
// record waits (the create sent again after the user lost its matter:
// the server answers from its ledger, without the record) leaves the
// record out of sight at once, as a lost matter's do: the waiting change
// stays, failed, for the user to export or discard, and nothing of the
// record stays in the journal but what that change holds in the outbox.
func TestAppliedOutOfSightWithChangesWaitingLeavesAtOnce(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Sent before the wall"})
	b := nextBatch(t, db, 10)
	mustUpdate(t, db, n.ID, model.Fields{"body": "settle at three"})
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied})
	if _, err := db.Get(bg, n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the note applied out of sight is still here: %v", err)
	}
	ops := opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].State != OpFailed || ops[0].ErrorCode != protocol.CodeAccessRevoked || ops[0].Fields["body"] != "settle at three" {
		t.Fatalf("the waiting change: %+v; want it kept, failed as access_revoked", ops)
	}
	for _, word := range []string{"Sent before the wall", "settle"} {
		if held := journalHolds(t, db, word); len(held) > 0 {
			t.Errorf("the journal still holds %q in %+v", word, held)
		}
	}
	removed, err := db.Journal(bg, JournalQuery{RecordID: n.ID})
	if err != nil {
		t.Fatal(err)
	}
	if last := removed[0]; last.Kind != JournalRemoved || !strings.Contains(last.Summary, "no longer shows it to you") {
		t.Errorf("the note's newest journal entry %+v; want it removed, saying why", last)
	}
}

// A record deleted here, then brought back by another user and moved
// into a matter this user may not see, reaches the device as a removal
// only (its restore and move were one change it never pulled): the copy
// kept of it and its values in the journal leave with that removal, as
// a held record's would.
func TestRemovalOfARecordDeletedBeforeTakesItsValues(t *testing.T) {
	db, m := openWithMatter(t)
	n := deletedHere(t, db, m, "Deleted, then walled")
	if err := db.ApplyPull(bg, protocol.PullResponse{Removed: []protocol.Removal{{ID: n, MatterID: m}}, Cursor: 10}); err != nil {
		t.Fatal(err)
	}
	if held := journalHolds(t, db, "Deleted, then walled"); len(held) > 0 {
		t.Errorf("after its removal the journal still holds the deleted note's title in %+v", held)
	}
	if u := mustUndo(t, db); !u.OutOfSight || u.Action != UndoNothing {
		t.Errorf("undo of the delete after the note's removal: %+v; want nothing taken back, out of sight", u)
	}
}

// deletedHere makes a synced note of title in matter m, deletes it here
// and answers the delete applied: the note leaves the device with its
// tombstone's copy kept, its title still in the journal.
func deletedHere(t *testing.T, db *DB, m, title string) string {
	t.Helper()
	n := syncedNote(t, db, m, 2, model.Fields{"title": title})
	if err := db.Delete(bg, n); err != nil {
		t.Fatal(err)
	}
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: n, Collection: "note", MatterID: m, Version: 3, Deleted: true, Fields: model.Fields{"matter_id": m, "title": title}}})
	if len(journalHolds(t, db, title)) == 0 {
		t.Fatal("the journal held nothing of the deleted note: the test proves nothing")
	}
	return n
}
