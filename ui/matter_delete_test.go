package ui

import (
	"context"
	"errors"
	"testing"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
)

// Deleting a matter that holds records says how much it holds and asks a
// second time; no at either question deletes nothing.
func TestDeleteMatterAsksTwiceWithCounts(t *testing.T) {
	db := localdbtest.Open(t)
	m0 := seedMatter(t, db, "Smith v. Jones", 2)
	mustCreate(t, db, "task", model.Fields{"matter_id": m0.ID, "title": "File the brief"})
	m := newTestModel(t, Options{DB: db})
	mustContain(t, screenText(m), "Matters · all matters", "Smith v. Jones")
	press(t, m, "d")
	mustContain(t, screenText(m), "The matter “Smith v. Jones” holds 3 records (note: 2, task: 1).", "Delete them with it?")
	press(t, m, "y")
	mustContain(t, screenText(m), "Really delete “Smith v. Jones” and all 3 records")
	if n, _ := db.Count(context.Background(), localdb.ListQuery{Collection: "note"}); n != 2 {
		t.Fatalf("the first yes deleted something: %d notes", n)
	}
	press(t, m, "n")
	if r, err := db.Get(context.Background(), m0.ID); err != nil || r.Deleted {
		t.Fatalf("no at the second question deleted the matter: %v", err)
	}
	press(t, m, "d", "n")
	if m.ask != nil {
		t.Fatal("the question stayed after no")
	}
	press(t, m, "d", "y", "y")
	mustContain(t, screenText(m), "Deleted “Smith v. Jones” and the 3 records it held.")
	if _, err := db.Get(context.Background(), m0.ID); !errors.Is(err, localdb.ErrNotFound) {
		t.Fatalf("the matter after the cascade: %v", err)
	}
	if n, _ := db.Count(context.Background(), localdb.ListQuery{Collection: "note"}); n != 0 {
		t.Fatalf("%d notes left after their matter went", n)
	}
}

func TestDeleteEmptyMatterAsksOnce(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Empty matter", 0)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "d")
	mustContain(t, screenText(m), "Delete the matter “Empty matter”?")
	press(t, m, "y")
	mustContain(t, screenText(m), "Deleted “Empty matter”.")
}
