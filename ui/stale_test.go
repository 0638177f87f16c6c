package ui

import (
	"context"
	"testing"
	"time"

	"casefile/localdb/localdbtest"
)

// A record left open while its conflict is resolved shows the resolution
// when the person comes back to it, and e edits that value, not the old.
func TestResolveThenViewShowsTheNewValue(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	m.step(openRecordMsg{id: st.conflict.ID})
	drain(t, m, m.detail.Init())
	mustContain(t, screenText(m), "≠ conflict", "he saw the van at 9")
	press(t, m, "c")
	if m.screen != screenConflicts {
		t.Fatal("c did not open the review")
	}
	press(t, m, "T", "a") // theirs for every field, apply
	mustContain(t, screenText(m), "Conflict resolved.")
	press(t, m, "1")
	s := screenText(m)
	mustContain(t, s, "He was not helpful.")
	mustNotContain(t, s, "≠ conflict", "he saw the van at 9")
	press(t, m, "e")
	if m.editor == nil {
		t.Fatal("e did not open the editor")
	}
	for _, ff := range m.editor.fields {
		if ff.f.Name == "body" && ff.text() != "Met the caretaker at the gate. He was not helpful." {
			t.Fatalf("the editor starts from %q, not the resolved body", ff.text())
		}
	}
}

// A record open in the detail follows a discard made in the backlog.
func TestDiscardThenViewShowsTheServerCopy(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	ctx := context.Background()
	if _, err := db.Update(ctx, st.synced.ID, map[string]any{"title": "Minutes, edited here"}); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, Options{DB: db})
	m.step(openRecordMsg{id: st.synced.ID})
	drain(t, m, m.detail.Init())
	mustContain(t, screenText(m), "Minutes, edited here")
	press(t, m, "3")
	for i, op := range m.backlog.ops {
		if op.RecordID == st.synced.ID {
			m.backlog.list.Select(i)
		}
	}
	press(t, m, "x", "y")
	press(t, m, "1")
	s := screenText(m)
	mustContain(t, s, "Site meeting minutes")
	mustNotContain(t, s, "Minutes, edited here")
}

// The activity feed names the record of each entry, a deleted one too.
func TestActivityNamesTheRecord(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	gone := mustCreate(t, db, "note", map[string]any{"matter_id": st.matter.ID, "title": "Scratch note"})
	if err := db.Delete(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, Options{DB: db})
	press(t, m, "4")
	s := screenText(m)
	mustContain(t, s, "note        “Questions for the surveyor”", "“Caretaker statement”", "“Scratch note”")
}
