package localdb

import (
	"testing"

	"casefile/model"
	"casefile/protocol"
)

func cursorOf(t *testing.T, db *DB) int64 {
	t.Helper()
	st, err := db.Status(bg)
	if err != nil {
		t.Fatal(err)
	}
	return st.Cursor
}

// TestAdvanceCursorAfterPush: the cursor moves to the push answer's only
// from the cursor the push named, outside a resync, and when every record
// the answers changed after it is held here at their version; otherwise
// it stays and the next pull fetches the changes.
func TestAdvanceCursorAfterPush(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db) // cursor 1
	c, ok, err := db.PushCursor(bg)
	if err != nil || !ok || c != 1 {
		t.Fatalf("PushCursor = %d, %v, %v; want 1, true", c, ok, err)
	}
	note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "pushed"})
	op := outbox(t, db)[0]
	rec := serverRecord(note.ID, "note", m, 1, model.Fields{"matter_id": m, "title": "pushed"})
	rec.Seq = 2
	res := []protocol.OpResult{{OpID: op.OpID, Result: model.ResultApplied, Record: &rec}}

	// Before the answer is applied, the record is not held at version 1.
	if moved, err := db.AdvanceCursorAfterPush(bg, 1, 2, res); err != nil || moved {
		t.Fatalf("advance before the answers were applied = %v, %v; want false", moved, err)
	}
	if err := db.ApplyPushResults(bg, res); err != nil {
		t.Fatal(err)
	}
	if moved, err := db.AdvanceCursorAfterPush(bg, 0, 2, res); err != nil || moved || cursorOf(t, db) != 1 {
		t.Fatalf("advance from a cursor not held = %v, %v, cursor %d; want false, 1", moved, err, cursorOf(t, db))
	}
	if moved, err := db.AdvanceCursorAfterPush(bg, 1, 2, res); err != nil || !moved || cursorOf(t, db) != 2 {
		t.Fatalf("advance = %v, %v, cursor %d; want true, 2", moved, err, cursorOf(t, db))
	}

	// A resync: the cursor is not named and never moved by a push.
	if err := db.ResetCursor(bg); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.PushCursor(bg); ok {
		t.Fatal("PushCursor named a cursor during a resync")
	}
	if moved, _ := db.AdvanceCursorAfterPush(bg, 0, 3, nil); moved || cursorOf(t, db) != 0 {
		t.Fatalf("advance during a resync moved the cursor to %d", cursorOf(t, db))
	}
}

// TestAdvanceCursorAfterPushDiscarded: an answer for an op discarded
// meanwhile is not applied, so the cursor must not pass the record it
// created on the server: the pull brings it.
func TestAdvanceCursorAfterPushDiscarded(t *testing.T) {
	db, m := openWithMatter(t)
	note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "gone here"})
	op := outbox(t, db)[0]
	if err := db.DiscardOp(bg, op.OpID); err != nil {
		t.Fatal(err)
	}
	rec := serverRecord(note.ID, "note", m, 1, model.Fields{"matter_id": m, "title": "gone here"})
	rec.Seq = 2
	res := []protocol.OpResult{{OpID: op.OpID, Result: model.ResultApplied, Record: &rec}}
	if err := db.ApplyPushResults(bg, res); err != nil {
		t.Fatal(err)
	}
	if moved, err := db.AdvanceCursorAfterPush(bg, 1, 2, res); err != nil || moved || cursorOf(t, db) != 1 {
		t.Fatalf("advance past an unapplied answer = %v, %v, cursor %d; want false, 1", moved, err, cursorOf(t, db))
	}
}
