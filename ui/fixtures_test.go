package ui

import (
	"context"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// states holds one record in each sync state, made through the same
// database calls the syncer uses.
type states struct {
	matter                                 model.Record
	synced, conflict, failed, retry, saved model.Record
	deleteEdit                             model.Record
}

// pushOne hands the only due op to "the server" and applies its answer.
func pushOne(t testing.TB, db *localdb.DB, answer func(op localdb.OutboxOp) protocol.OpResult) {
	t.Helper()
	ctx := context.Background()
	ops, err := db.NextBatch(ctx, time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var results []protocol.OpResult
	for _, op := range ops {
		results = append(results, answer(op))
	}
	if err := db.ApplyPushResults(ctx, results); err != nil {
		t.Fatal(err)
	}
}

func serverRecord(op localdb.OutboxOp, version int64, fields model.Fields) *protocol.Record {
	return &protocol.Record{ID: op.RecordID, Collection: op.Collection, Version: version, Fields: fields,
		MatterID: model.MatterOf(op.Collection, op.RecordID, fields)}
}

// seedStates builds a matter with notes in every state: synced, conflict
// (the body edited on both sides), failed (refused by the server),
// retrying (next try at retryAt), saved offline, and a delete-vs-edit
// conflict.
func seedStates(t testing.TB, db *localdb.DB, retryAt time.Time) states {
	t.Helper()
	ctx := context.Background()
	var st states
	applied := func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	}
	st.matter = mustCreate(t, db, "matter", model.Fields{"title": "Harbour Trust v. Pell", "client": "Harbour Trust", "status": "open", "case_number": "CV-2025-0142"})
	pushOne(t, db, applied)
	st.synced = mustCreate(t, db, "note", model.Fields{"matter_id": st.matter.ID, "title": "Site meeting minutes", "status": "closed", "tags": []string{"site"}})
	st.conflict = mustCreate(t, db, "note", model.Fields{"matter_id": st.matter.ID, "title": "Caretaker statement", "status": "open",
		"body": "Met the caretaker at the gate.", "tags": []string{"witness"}})
	st.deleteEdit = mustCreate(t, db, "note", model.Fields{"matter_id": st.matter.ID, "title": "Old draft", "status": "draft"})
	pushOne(t, db, applied)

	// Both sides change the caretaker note's body: a conflict. Its status
	// changed here only and is kept.
	changes := model.Fields{"body": "Met the caretaker at the gate; he saw the van at 9.", "status": "review"}
	if _, err := db.Update(ctx, st.conflict.ID, changes); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(ctx, st.deleteEdit.ID); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		if op.RecordID == st.deleteEdit.ID {
			theirs := model.Fields{"matter_id": st.matter.ID, "title": "Old draft (kept by Bob)", "status": "open"}
			return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
				ConflictFields: []string{"title", "status"}}
		}
		theirs := model.Fields{"matter_id": st.matter.ID, "title": "Caretaker statement", "status": "open",
			"body": "Met the caretaker at the gate. He was not helpful.", "tags": []string{"witness"}}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
			ConflictFields: []string{"body"}}
	})

	st.failed = mustCreate(t, db, "task", model.Fields{"matter_id": st.matter.ID, "title": "File the defence", "priority": "urgent"})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: protocol.CodeForbidden, Message: "you may not write to this matter"}
	})
	st.retry = mustCreate(t, db, "note", model.Fields{"matter_id": st.matter.ID, "title": "Call notes with the insurer", "status": "draft"})
	ops, err := db.NextBatch(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(ops) != 1 {
		t.Fatalf("next batch: %v, %d ops", err, len(ops))
	}
	if err := db.MarkRetry(ctx, []string{ops[0].OpID}, "the server could not be reached", retryAt); err != nil {
		t.Fatal(err)
	}
	st.saved = mustCreate(t, db, "note", model.Fields{"matter_id": st.matter.ID, "title": "Questions for the surveyor", "status": "draft", "tags": []string{"todo", "survey"}})
	for _, r := range []*model.Record{&st.synced, &st.conflict, &st.failed, &st.retry, &st.saved, &st.deleteEdit} {
		got, err := db.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		*r = got
	}
	return st
}

func TestSeedStates(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	want := map[string]model.SyncState{
		"synced": model.StateSynced, "conflict": model.StateConflict, "failed": model.StateFailed,
		"retry": model.StateRetrying, "saved": model.StatePending, "deleteEdit": model.StateConflict,
	}
	got := map[string]model.SyncState{
		"synced": st.synced.State, "conflict": st.conflict.State, "failed": st.failed.State,
		"retry": st.retry.State, "saved": st.saved.State, "deleteEdit": st.deleteEdit.State,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: state %s, want %s", k, got[k], w)
		}
	}
}
