package ui

import (
	"context"
	"fmt"
	"testing"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// seedBodyConflicts makes one note per title whose body was changed here
// and, differently, on the server: a conflict on the body of each.
func seedBodyConflicts(t *testing.T, db *localdb.DB, titles ...string) []model.Record {
	t.Helper()
	ctx := context.Background()
	applied := func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	}
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Harbour Trust v. Pell"})
	pushOne(t, db, applied)
	var notes []model.Record
	for _, title := range titles {
		notes = append(notes, mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": title, "status": "open", "body": "As first written."}))
	}
	pushOne(t, db, applied)
	for _, n := range notes {
		if _, err := db.Update(ctx, n.ID, model.Fields{"body": "Changed here."}); err != nil {
			t.Fatal(err)
		}
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		theirs := rec.Fields.Clone()
		theirs["body"] = "Changed on the server."
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
			ConflictFields: []string{"body"}}
	})
	return notes
}

// resolveTheirs resolves a record's conflict as `casefile resolve ID
// --theirs` does, behind the UI's back.
func resolveTheirs(t *testing.T, db *localdb.DB, id string) {
	t.Helper()
	if _, err := db.Resolve(context.Background(), id, model.Resolution{All: model.TakeTheirs}); err != nil {
		t.Fatal(err)
	}
}

// A merge being typed when every conflict is resolved elsewhere ends, and
// says so; the keys that would keep it find nothing to keep it for.
func TestConflictMergeEndsWhenTheListEmpties(t *testing.T) {
	db := localdbtest.Open(t)
	notes := seedBodyConflicts(t, db, "Caretaker statement")
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2", "e")
	if !m.conflicts.editing {
		t.Fatal("e did not start the merge")
	}
	typeText(t, m, "typed merge")
	resolveTheirs(t, db, notes[0].ID)
	drain(t, m, m.refreshAll())
	if len(m.conflicts.list) != 0 {
		t.Fatalf("%d conflicts listed after resolving the only one", len(m.conflicts.list))
	}
	press(t, m, "ctrl+s", "enter", "a") // no panic, nothing kept
	mustContain(t, screenText(m), "Your merge was not applied: note “Caretaker statement” was resolved elsewhere.")
	if m.conflicts.editing || m.capturing() {
		t.Fatal("the review still takes typing for a conflict that is gone")
	}
	if len(m.conflicts.choices) != 0 {
		t.Fatalf("choices kept for a resolved conflict: %v", m.conflicts.choices)
	}
}

// A merge is typed for one record: resolving that record elsewhere ends
// it, never moving the typed text to another record's conflict; resolving
// another record leaves it typing for its own.
func TestConflictMergeStaysWithItsRecord(t *testing.T) {
	db := localdbtest.Open(t)
	notes := seedBodyConflicts(t, db, "Alpha note", "Bravo note", "Charlie note")
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2")
	byIndex := func(i int) model.Record {
		for _, n := range notes {
			if n.ID == m.conflicts.list[i].RecordID {
				return n
			}
		}
		t.Fatalf("conflict %d is of no seeded note", i)
		return model.Record{}
	}
	second, third := byIndex(1), byIndex(2)
	press(t, m, "]", "e", "ctrl+k")
	typeText(t, m, "Merged for the second")

	// Another record resolved: the merge stays with its own.
	first := byIndex(0)
	resolveTheirs(t, db, first.ID)
	drain(t, m, m.refreshAll())
	if !m.conflicts.editing {
		t.Fatal("resolving another record ended the merge")
	}
	if c, _, _ := m.conflicts.current(); c.RecordID != second.ID {
		t.Fatalf("the review moved from %s to %s while typing", second.ID, c.RecordID)
	}
	mustContain(t, screenText(m), fmt.Sprintf("Merging the body of note “%s”", second.Fields["title"]))
	press(t, m, "ctrl+s")
	if ch := m.conflicts.choices[second.ID]["body"]; ch.Take != model.TakeValue || ch.Value != "Merged for the second" {
		t.Fatalf("the merge was kept as %+v", ch)
	}

	// Its own record resolved: the merge ends, and nothing of it reaches
	// the record whose conflict now takes its place.
	press(t, m, "e")
	typeText(t, m, " and more")
	resolveTheirs(t, db, second.ID)
	drain(t, m, m.refreshAll())
	s := screenText(m)
	mustNotContain(t, s, "Merged for the second")
	press(t, m, "ctrl+s", "a")
	rec, err := db.Get(context.Background(), third.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != model.StateConflict || rec.Fields["body"] != "Changed here." {
		t.Fatalf("the other record was written: state %s, body %q", rec.State, rec.Fields["body"])
	}
	if ch, ok := m.conflicts.choices[third.ID]; ok {
		t.Fatalf("the typed merge was chosen for another record: %v", ch)
	}
	if m.conflicts.editing {
		t.Fatal("the merge goes on for a conflict resolved elsewhere")
	}
	mustContain(t, s, fmt.Sprintf("Your merge was not applied: note “%s” was resolved elsewhere.", second.Fields["title"]))
}

// A merge typed against values that no longer stand (the record met a
// new conflict meanwhile) ends too, rather than answer the new one.
func TestConflictMergeEndsWhenItsConflictChanges(t *testing.T) {
	db := localdbtest.Open(t)
	ctx := context.Background()
	notes := seedBodyConflicts(t, db, "Caretaker statement")
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2", "e")
	typeText(t, m, "typed merge")
	resolveTheirs(t, db, notes[0].ID)
	if _, err := db.Update(ctx, notes[0].ID, model.Fields{"body": "Changed here again."}); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		theirs := rec.Fields.Clone()
		theirs["body"] = "Changed on the server again."
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 3, theirs),
			ConflictFields: []string{"body"}}
	})
	drain(t, m, m.refreshAll())
	press(t, m, "ctrl+s")
	if m.conflicts.editing || len(m.conflicts.choices) != 0 {
		t.Fatalf("the merge answered a conflict it was not typed for: editing %v, choices %v", m.conflicts.editing, m.conflicts.choices)
	}
	mustContain(t, screenText(m), "Your merge was not applied: note “Caretaker statement” has a new conflict.")
}
