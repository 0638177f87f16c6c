package ui

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/model"
)

// stepAhead types keys the way a fast typist does ahead of a slow disk:
// the app handles each key, but the reads they start have not answered
// yet. It returns those reads, to run them afterwards.
func stepAhead(m *Model, keys ...string) tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		cmds = append(cmds, m.step(keyPress(k)))
	}
	return tea.Batch(cmds...)
}

// editing fails unless the editor is open on the record id.
func editing(t *testing.T, m *Model, id, what string) {
	t.Helper()
	if m.editor == nil || m.editor.rec == nil || m.editor.rec.ID != id {
		t.Fatalf("%s: the editor is not open on %s:\n%s", what, id, screenText(m))
	}
}

// TestEditTypedBeforeTheListLoads: e pressed on a list still being read
// (→ → e, faster than the notes come in) edits the note once it is there,
// and the keys typed after e go to the form, in order, not to the list
// behind it.
func TestEditTypedBeforeTheListLoads(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate Homes"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Site visit", "body": "Damp in the hall."})
	m := newTestModel(t, Options{DB: db})

	reads := stepAhead(m, "right", "right", "e", "tab")
	if m.editor != nil || m.screen != screenRecords {
		t.Fatalf("acted before the notes were read: editor %v, screen %d", m.editor != nil, m.screen)
	}
	mustContain(t, screenText(m), "Notes · all matters", "Loading…")

	drain(t, m, reads)
	editing(t, m, note.ID, "→ → e")
	if focus := m.editor.fields[m.editor.focus].f.Name; m.screen != screenRecords || focus != "body" {
		t.Fatalf("tab typed after e went elsewhere: screen %d, focus %s", m.screen, focus)
	}
	mustContain(t, screenText(m), "Edit note · Site visit")
}

// TestMoveTypedBeforeTheListLoads: j typed before the notes come in moves
// over the notes, not over the matters listed before them.
func TestMoveTypedBeforeTheListLoads(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate Homes"})
	for _, title := range []string{"Site visit", "Call with the surveyor"} {
		mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": title})
	}
	m := newTestModel(t, Options{DB: db})

	drain(t, m, stepAhead(m, "right", "right", "j", "e"))
	if len(m.records.win) != 2 {
		t.Fatalf("the notes list holds %d rows, want 2", len(m.records.win))
	}
	editing(t, m, m.records.win[1].ID, "→ → j e")
}

// TestKeyTypedBeforeAnEmptyListLoads: e on a list that turns out empty
// does nothing, and the keys typed after it are not lost.
func TestKeyTypedBeforeAnEmptyListLoads(t *testing.T) {
	db := localdbtest.Open(t)
	mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate Homes"})
	m := newTestModel(t, Options{DB: db})

	drain(t, m, stepAhead(m, "right", "e", "/")) // matters → contacts: none
	if m.editor != nil {
		t.Fatal("e on an empty list opened a form")
	}
	if !m.records.searching || len(m.held) != 0 {
		t.Fatalf("the key typed after e was lost: searching %v, held %d", m.records.searching, len(m.held))
	}
	mustContain(t, screenText(m), "Contacts · all matters", "No contacts yet.")
}

// TestEditTypedBeforeTheRowsInSightLoad: after a jump to the last row,
// e waits for the window that holds it, and edits that row.
func TestEditTypedBeforeTheRowsInSightLoad(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate Homes"})
	const n = 120 // more than a window (three pages) holds
	for i := range n {
		mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": fmt.Sprintf("Note %03d", i)})
	}
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "S") // notes, by title
	if sel, ok := m.records.selected(); !ok || sel.Fields["title"] != "Note 000" {
		t.Fatalf("the list does not start at Note 000: %v %v", sel.Fields, ok)
	}

	reads := stepAhead(m, "G", "e")
	if m.editor != nil {
		t.Fatal("acted before the last rows were read")
	}
	drain(t, m, reads)
	last := fmt.Sprintf("Note %03d", n-1)
	if m.editor == nil || m.editor.rec == nil || m.editor.rec.Fields["title"] != last {
		t.Fatalf("e after G did not edit %s:\n%s", last, screenText(m))
	}
}

// TestEditTypedBeforeAPaneLoads: enter e on a record, enter e on a matter
// and 5 j e (the agenda) edit what the pane shows once it is read.
func TestEditTypedBeforeAPaneLoads(t *testing.T) {
	m, _ := newCaseModel(t)
	reads := stepAhead(m, "enter", "e")
	if m.hub == nil || m.hub.loaded || m.editor != nil {
		t.Fatal("the hub was read at once: nothing typed ahead of it")
	}
	drain(t, m, reads)
	editing(t, m, m.hub.id, "enter e on a matter")

	m, _ = newCaseModel(t)
	press(t, m, "right", "right") // the notes
	reads = stepAhead(m, "enter", "e")
	if m.detail == nil || m.detail.loaded || m.editor != nil {
		t.Fatal("the record was read at once: nothing typed ahead of it")
	}
	drain(t, m, reads)
	editing(t, m, m.detail.id, "enter e on a note")

	m, _ = newCaseModel(t)
	reads = stepAhead(m, "5", "j", "e")
	if m.agenda.loaded || m.editor != nil {
		t.Fatal("the agenda was read at once: nothing typed ahead of it")
	}
	drain(t, m, reads)
	if len(m.agenda.items) < 2 {
		t.Fatalf("the agenda holds %d items, want 2 or more", len(m.agenda.items))
	}
	editing(t, m, m.agenda.items[1].Record.ID, "5 j e")
}
