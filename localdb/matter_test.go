package localdb

import (
	"errors"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

func TestDeleteMatterThatHoldsRecordsIsRefusedWithCounts(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Harbour Trust")
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "a"})
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "b"})
	task := mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "c"})
	other := mustMatter(t, db, "Other")
	mustCreate(t, db, "note", model.Fields{"matter_id": other, "title": "elsewhere"})
	err := db.Delete(bg, m)
	var holds *MatterHoldsError
	if !errors.As(err, &holds) || !errors.Is(err, ErrMatterNotEmpty) {
		t.Fatalf("delete of a matter holding records: %v, want a MatterHoldsError", err)
	}
	if holds.Counts["note"] != 2 || holds.Counts["task"] != 1 || holds.Total() != 3 {
		t.Fatalf("counts %v", holds.Counts)
	}
	if r, err := db.Get(bg, m); err != nil || r.Deleted {
		t.Fatalf("the matter changed after a refused delete: %+v %v", r, err)
	}
	// A deleted record is not held.
	if err := db.Delete(bg, task.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.MatterHolds(bg, m); err != nil || got["task"] != 0 || got["note"] != 2 {
		t.Fatalf("holds after deleting the task: %v %v", got, err)
	}
}

func TestDeleteCascadeQueuesTheRecordsBeforeTheMatter(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Harbour Trust")
	n1 := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "a"})
	n2 := mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "b"})
	keep := mustCreate(t, db, "note", model.Fields{"matter_id": mustMatter(t, db, "Other"), "title": "kept"})
	n, err := db.DeleteCascade(bg, m)
	if err != nil || n != 2 {
		t.Fatalf("cascade: %d, %v; want 2 records with the matter", n, err)
	}
	for _, id := range []string{m, n1.ID, n2.ID} {
		if _, err := db.Get(bg, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s after the cascade: %v, want gone (never on the server)", id, err)
		}
	}
	if r, err := db.Get(bg, keep.ID); err != nil || r.Deleted {
		t.Fatalf("another matter's note went too: %v", err)
	}
}

func TestDeleteCascadeOfSyncedMatterSendsChildrenFirst(t *testing.T) {
	db, m := openWithMatter(t)
	n1 := syncedNote(t, db, m, 2, model.Fields{"title": "a"})
	if _, err := db.DeleteCascade(bg, m); err != nil {
		t.Fatal(err)
	}
	ops := outbox(t, db)
	if len(ops) != 2 || ops[0].RecordID != n1 || ops[1].RecordID != m || ops[0].Kind != model.OpDelete || ops[1].Kind != model.OpDelete {
		t.Fatalf("outbox %+v, want the note's delete then the matter's", ops)
	}
}

func TestDeleteCascadeStopsAtAConflict(t *testing.T) {
	db, m := openWithMatter(t)
	n1 := syncedNote(t, db, m, 2, model.Fields{"title": "a"})
	mustUpdate(t, db, n1, model.Fields{"title": "Mine"})
	op := nextBatch(t, db, 10)[0]
	conflictOn(t, db, op, &protocol.Record{ID: n1, Collection: "note", MatterID: m, Version: 3,
		Fields: model.Fields{"matter_id": m, "title": "Theirs"}}, "title")
	if _, err := db.DeleteCascade(bg, m); !errors.Is(err, ErrInConflict) {
		t.Fatalf("cascade over a conflict: %v, want ErrInConflict", err)
	}
	if ops := outbox(t, db); len(ops) != 1 {
		t.Fatalf("a refused cascade queued ops: %+v", ops)
	}
	if r := mustGet(t, db, m); r.Deleted {
		t.Fatal("the matter went although the cascade was refused")
	}
}
