package ui

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// openNoteForm opens the new-note form from the notes list.
func openNoteForm(t *testing.T, m *Model) {
	t.Helper()
	press(t, m, "right", "right", "n")
	if m.editor == nil {
		t.Fatal("n did not open the editor")
	}
}

func focusField(t *testing.T, m *Model, name string) {
	t.Helper()
	for i, ff := range m.editor.fields {
		if ff.f.Name == name {
			m.editor.focusField(i)
			return
		}
	}
	t.Fatalf("no field %s", name)
}

func TestEditorShowsValidationErrorsNextToFields(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	openNoteForm(t, m)
	// Nothing typed: matter and title are required.
	press(t, m, "ctrl+s")
	if m.editor == nil {
		t.Fatal("an invalid form was closed")
	}
	errs := map[string]string{}
	for _, ff := range m.editor.fields {
		if ff.err != "" {
			errs[ff.f.Name] = ff.err
		}
	}
	if errs["matter_id"] == "" || errs["title"] == "" || len(errs) != 2 {
		t.Fatalf("field errors = %v", errs)
	}
	s := screenText(m)
	mustContain(t, s, "Nothing was saved: fix the fields marked ✗.", "✗ is required")
	if n, _ := db.Count(context.Background(), localdb.ListQuery{Collection: "note"}); n != 0 {
		t.Fatalf("an invalid form wrote %d notes", n)
	}
}

func TestEditorRejectsBadNumberAndDate(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "right", "right", "right") // time entries
	press(t, m, "m")
	press(t, m, "down", "enter") // past "All matters" to M
	if m.records.matterID != mt.ID {
		t.Fatalf("matter filter = %q", m.records.matterID)
	}
	press(t, m, "n")
	if got := m.editor.fields[0].refID; got != mt.ID {
		t.Fatalf("the new record did not take the filtered matter: %q", got)
	}
	focusField(t, m, "description")
	typeText(t, m, "Drafting the reply")
	focusField(t, m, "worked_on")
	typeText(t, m, "31/02/2025")
	focusField(t, m, "minutes")
	typeText(t, m, "2000")
	press(t, m, "ctrl+s")
	var dateErr, minErr string
	for _, ff := range m.editor.fields {
		switch ff.f.Name {
		case "worked_on":
			dateErr = ff.err
		case "minutes":
			minErr = ff.err
		}
	}
	if dateErr != `not a valid date (YYYY-MM-DD): "31/02/2025"` || minErr != "must be at most 1440" {
		t.Fatalf("date error %q, minutes error %q", dateErr, minErr)
	}
	// Fix both and save: it is written at once and the detail opens.
	focusField(t, m, "worked_on")
	press(t, m, "ctrl+u")
	typeText(t, m, "2025-03-12")
	focusField(t, m, "minutes")
	press(t, m, "backspace", "backspace", "backspace", "backspace")
	typeText(t, m, "90")
	press(t, m, "ctrl+s")
	if m.editor != nil {
		t.Fatalf("a valid form stayed open: %q", m.editor.notice)
	}
	if m.detail == nil || !m.detail.loaded {
		t.Fatal("the saved record's detail did not open")
	}
	rec := m.detail.rec
	if rec.State != model.StatePending || rec.Fields["minutes"] != 90.0 || rec.Fields["worked_on"] != "2025-03-12" {
		t.Fatalf("saved %v in state %s", rec.Fields, rec.State)
	}
	mustContain(t, screenText(m), "↑ saved offline", "Saved on this computer.")
}

func TestEditorEditsOnlyChangedFields(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Before", "status": "open", "tags": []string{"a"}})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(context.Background(), op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "e")
	focusField(t, m, "title")
	press(t, m, "ctrl+u")
	typeText(t, m, "After")
	focusField(t, m, "status")
	press(t, m, "right") // open → review
	focusField(t, m, "body")
	typeText(t, m, "line one")
	press(t, m, "enter")
	typeText(t, m, "line two")
	press(t, m, "ctrl+s")
	got, err := db.Get(context.Background(), n.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Fields{"matter_id": mt.ID, "title": "After", "status": "review", "tags": []string{"a"}, "body": "line one\nline two"}
	for k, v := range want {
		if !model.Equal(got.Fields[k], v) {
			t.Errorf("%s = %v, want %v", k, got.Fields[k], v)
		}
	}
	ops, _ := db.Outbox(context.Background())
	if len(ops) != 1 || ops[0].Kind != model.OpUpdate {
		t.Fatalf("outbox = %+v", ops)
	}
	var names []string
	for k := range ops[0].Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"body", "status", "title"}) {
		t.Fatalf("the update carries %v, want only the changed fields", names)
	}
}

func TestEditorEscAsksBeforeDroppingTyping(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	openNoteForm(t, m)
	press(t, m, "esc")
	if m.editor != nil {
		t.Fatal("esc on an untouched form did not close it")
	}
	press(t, m, "n")
	focusField(t, m, "title")
	typeText(t, m, "Draft")
	press(t, m, "esc")
	if m.ask == nil || m.editor == nil {
		t.Fatal("esc with typing did not ask first")
	}
	press(t, m, "n") // keep editing
	if m.ask != nil || m.editor == nil {
		t.Fatal("answering no did not return to the form")
	}
	press(t, m, "esc", "y")
	if m.editor != nil {
		t.Fatal("answering yes did not close the form")
	}
}

func TestDeleteAsksForConfirmation(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "M", 2)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "d")
	if m.ask == nil {
		t.Fatal("d did not ask")
	}
	mustContain(t, screenText(m), "Delete the note “Note 001”?", "y yes")
	press(t, m, "esc")
	if n, _ := db.Count(context.Background(), localdb.ListQuery{Collection: "note"}); n != 2 || m.ask != nil {
		t.Fatalf("cancelled delete: %d notes, ask %v", n, m.ask)
	}
	press(t, m, "d", "y")
	if n, _ := db.Count(context.Background(), localdb.ListQuery{Collection: "note"}); n != 1 {
		t.Fatalf("confirmed delete left %d notes", n)
	}
	mustContain(t, screenText(m), "Deleted “Note 001”.", "1 of 1")
}

// focusedName is the name of the field the editor's cursor is in.
func focusedName(m *Model) string { return m.editor.fields[m.editor.focus].f.Name }

func TestEditorLongTextWrapsAndMovesByLine(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	openNoteForm(t, m)
	focusField(t, m, "body")
	long := "The caretaker saw water come over the sea wall at the north corner twice in March, both times at high tide"
	typeText(t, m, long)
	press(t, m, "enter")
	typeText(t, m, "Photos follow.")
	s := screenText(m)
	// Soft wrap: the first line runs on to a second row of the field.
	mustContain(t, s, "The caretaker saw water come over the sea wall", "both times at high tide", "Photos follow.")
	for _, l := range strings.Split(s, "\n") {
		if w := ansi.StringWidth(l); w > 100 {
			t.Fatalf("a line of the form is %d cells wide:\n%s", w, s)
		}
	}
	// Up moves through the text, and only past its first row to the field above.
	press(t, m, "up")
	if focusedName(m) != "body" {
		t.Fatalf("up from the last line left the long text for %s", focusedName(m))
	}
	press(t, m, "up", "up")
	if focusedName(m) != "title" {
		t.Fatalf("up from the first row went to %s, want title", focusedName(m))
	}
	press(t, m, "down")
	if focusedName(m) != "body" {
		t.Fatalf("down from title went to %s, want body", focusedName(m))
	}
	// Tab always leaves the long text.
	press(t, m, "tab")
	if focusedName(m) != "status" {
		t.Fatalf("tab from body went to %s, want status", focusedName(m))
	}
	if got := m.editor.fields[2].text(); got != long+"\nPhotos follow." {
		t.Fatalf("body = %q", got)
	}
}

func TestEditorKeepsUntouchedTextAsItWas(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	// A tab and a line break show as spaces in a one-line input; a field
	// nobody edited is still not rewritten.
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Call\tback", "status": "open",
		"body": "first\tcolumn\nsecond line"})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "e")
	focusField(t, m, "status")
	press(t, m, "right")
	press(t, m, "ctrl+s")
	if m.editor != nil {
		t.Fatalf("the form did not save: %q", m.editor.notice)
	}
	got, err := db.Get(context.Background(), n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["title"] != "Call\tback" || got.Fields["body"] != "first\tcolumn\nsecond line" || got.Fields["status"] != "review" {
		t.Fatalf("saved %q", got.Fields)
	}
}

func TestEditorTextFieldsFollowTheThemeAndNoColor(t *testing.T) {
	db := localdbtest.Open(t)
	// fill types a title and a body into a new note's form, with NO_COLOR
	// as noColor says.
	fill := func(noColor string) *Model {
		m := newTestModel(t, Options{DB: db, Getenv: envOf("NO_COLOR", noColor)})
		openNoteForm(t, m)
		focusField(t, m, "title")
		typeText(t, m, "Site visit")
		focusField(t, m, "body")
		typeText(t, m, "Bring the moisture meter")
		return m
	}
	m := fill("")
	raw := m.render()
	if !strings.Contains(raw, "38;2;") {
		t.Fatal("the form is drawn without colours")
	}
	// A light theme from the config file reaches the inputs at once.
	dark := m.editor.fields[1].line.styled
	m.applySettings(Settings{Theme: ThemeLight})
	m.render()
	if m.editor.fields[1].line.styled == dark || m.editor.fields[1].line.styled != m.sh.Styles {
		t.Fatal("the text input kept the old theme")
	}
	if m.editor.fields[2].area.styled != m.sh.Styles {
		t.Fatal("the text area kept the old theme")
	}

	m = fill("1")
	raw = m.render()
	if strings.Contains(raw, "38;") || strings.Contains(raw, "48;") {
		t.Fatalf("colours drawn with NO_COLOR set: %q", raw)
	}
	if !strings.Contains(raw, "\x1b[7m") {
		t.Fatal("no cursor (reverse video) in the focused field with NO_COLOR set")
	}
	mustContain(t, ansi.Strip(raw), "Site visit", "Bring the moisture meter")
}

// TestEditorKeepsAChoiceItDoesNotList: a record whose choice this
// device's schema does not list (a newer casefile's "archived") shows it,
// marked, and an edit of another field leaves it as it was, also after
// the person moved off it and back; choosing a listed one replaces it.
func TestEditorKeepsAChoiceItDoesNotList(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Before", "status": "open"})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(context.Background(), op.RecordID)
		fields := maps.Clone(rec.Fields)
		if op.Collection == "note" {
			fields["status"] = "archived\x1b[2J"
		}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, fields)}
	})
	if got, _ := db.Get(context.Background(), n.ID); got.Fields["status"] != "archived\x1b[2J" {
		t.Fatalf("the server's choice did not arrive: %q", got.Fields["status"])
	}
	edit := func(keys ...string) model.Record {
		t.Helper()
		m := newTestModel(t, Options{DB: db})
		press(t, m, "right", "right", "e")
		if v := ansi.Strip(m.View().Content); !strings.Contains(v, `archived\x1b[2J (not a choice this version of casefile lists)`) {
			t.Fatalf("the form does not show the unlisted choice:\n%s", v)
		}
		focusField(t, m, "status")
		press(t, m, keys...)
		focusField(t, m, "title")
		typeText(t, m, "!")
		press(t, m, "ctrl+s")
		if m.editor != nil {
			t.Fatalf("the form did not save: %q", m.editor.notice)
		}
		got, err := db.Get(context.Background(), n.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, keys := range [][]string{{}, {"right", "left"}} {
		if got := edit(keys...); got.Fields["status"] != "archived\x1b[2J" {
			t.Fatalf("status after an edit of the title (keys %v): %q", keys, got.Fields["status"])
		}
	}
	ops, _ := db.Outbox(context.Background())
	for _, op := range ops {
		if _, ok := op.Fields["status"]; ok {
			t.Fatalf("an edit of the title sent the status: %+v", op)
		}
	}
	if got := edit("left"); got.Fields["status"] == "archived\x1b[2J" || got.Fields["status"] == nil {
		t.Fatalf("a listed choice did not replace the unlisted one: %q", got.Fields["status"])
	}
}

// TestEditorDoesNotOverwriteAChangePulledMeanwhile: a field another
// device changed while the form was open is not replaced by the form's
// older text: nothing is saved, the field says what it is now, and a
// second ctrl+s saves the person's text over it, knowingly. Fields nobody
// else changed save at once.
func TestEditorDoesNotOverwriteAChangePulledMeanwhile(t *testing.T) {
	ctx := context.Background()
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Before", "body": "has files"})
	applied := func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	}
	pushOne(t, db, applied)
	pushOne(t, db, applied)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "e")
	focusField(t, m, "body")
	typeText(t, m, " + ana addition")
	// Meanwhile eve's change of the body arrives.
	eve := "has files; EVE: hearing moved to 9am"
	if err := db.ApplyPull(ctx, protocol.PullResponse{Cursor: 10, Head: 10, Records: []protocol.Record{{ID: n.ID, Collection: "note",
		MatterID: mt.ID, Version: 2, UpdatedBy: "eve", Fields: model.Fields{"matter_id": mt.ID, "title": "Before", "body": eve}}}}); err != nil {
		t.Fatal(err)
	}
	press(t, m, "ctrl+s")
	if m.editor == nil {
		t.Fatal("the form saved over a change pulled meanwhile")
	}
	if got, _ := db.Get(ctx, n.ID); got.Fields["body"] != eve {
		t.Fatalf("body = %q, want eve's", got.Fields["body"])
	}
	if v := ansi.Strip(m.View().Content); !strings.Contains(v, "changed on another device while you edited") || !strings.Contains(v, "it is now “has files; EVE") {
		t.Fatalf("the form does not say what changed:\n%s", v)
	}
	press(t, m, "ctrl+s")
	if m.editor != nil {
		t.Fatalf("the second ctrl+s did not save: %q", m.editor.notice)
	}
	if got, _ := db.Get(ctx, n.ID); got.Fields["body"] != " + ana additionhas files" { // typed where the cursor stood
		t.Fatalf("body after saving knowingly = %q", got.Fields["body"])
	}
}

// TestUnsavedFormSaysWhatWasTyped: the form a signal would cut short
// reports what was typed (also text that does not parse yet), for an edit
// only what differs from the record; an untouched form reports nothing.
func TestUnsavedFormSaysWhatWasTyped(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Before", "status": "open"})
	m := newTestModel(t, Options{DB: db})
	if _, _, _, ok := m.UnsavedForm(); ok {
		t.Fatal("no form open, yet something unsaved")
	}
	press(t, m, "right", "right", "e")
	if _, _, _, ok := m.UnsavedForm(); ok {
		t.Fatal("an untouched form reports unsaved typing")
	}
	focusField(t, m, "status")
	press(t, m, "right")
	focusField(t, m, "body")
	typeText(t, m, "half a thought")
	col, id, fields, ok := m.UnsavedForm()
	if !ok || col != "note" || id == "" || len(fields) != 2 || fields["body"] != "half a thought" || fields["status"] != "review" {
		t.Fatalf("UnsavedForm() = %q, %q, %v, %v", col, id, fields, ok)
	}
}

// TestEditorSaysWhenTextHoldsHiddenCharacters: a field whose stored text
// holds characters the input shows as escapes says so while focused, and
// a field without them does not.
func TestEditorSaysWhenTextHoldsHiddenCharacters(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Plain", "body": "line\x1b[1Aover"})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right", "e")
	const note = "holds hidden characters, shown as escapes"
	focusField(t, m, "title")
	if v := ansi.Strip(m.View().Content); strings.Contains(v, note) {
		t.Fatalf("a plain title is said to hold hidden characters:\n%s", v)
	}
	focusField(t, m, "body")
	if v := ansi.Strip(m.View().Content); !strings.Contains(v, note) || !strings.Contains(v, `line\x1b[1Aover`) {
		t.Fatalf("the body's escapes are not explained:\n%s", v)
	}
}

// TestDetailShowsALongOneLineFieldWhole: the detail view wraps a one-line
// field longer than the pane instead of cutting it, so a 999-character
// title can be read to its end.
func TestDetailShowsALongOneLineFieldWhole(t *testing.T) {
	db := localdbtest.Open(t)
	words := strings.Repeat("the caretaker saw the gate open at dawn ", 24) + "ENDOFTITLE"
	mustCreate(t, db, "matter", model.Fields{"title": words})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "enter", "enter") // the matter's hub, then its detail
	if m.detail == nil {
		t.Fatal("no detail opened")
	}
	var text string
	for range 40 { // page down until the end of the field is in sight
		text = ansi.Strip(m.View().Content)
		if strings.Contains(text, "ENDOFTITLE") {
			break
		}
		press(t, m, "pgdown")
	}
	if !strings.Contains(text, "ENDOFTITLE") {
		t.Fatalf("the end of a long title is never shown:\n%s", text)
	}
	if strings.Contains(text, `\x1b`) {
		t.Fatalf("the detail view shows its own styling as escapes:\n%s", text)
	}
}

// TestChoicesReadAsTheirLabels: a choice shows as its label ("on hold")
// in the list and the form, and is stored as its value ("on_hold"),
// whether the person leaves it or picks it.
func TestChoicesReadAsTheirLabels(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Pell", "status": "on_hold"})
	m := newTestModel(t, Options{DB: db})
	if v := ansi.Strip(m.View().Content); !strings.Contains(v, "on hold") || strings.Contains(v, "on_hold") {
		t.Fatalf("the list does not show the status by its label:\n%s", v)
	}
	save := func(keys ...string) any {
		t.Helper()
		press(t, m, "e")
		if v := ansi.Strip(m.View().Content); !strings.Contains(v, "‹ on hold ›") && len(keys) == 0 {
			t.Fatalf("the form does not show the status by its label:\n%s", v)
		}
		focusField(t, m, "status")
		press(t, m, keys...)
		focusField(t, m, "title")
		typeText(t, m, "!")
		press(t, m, "ctrl+s")
		if m.editor != nil {
			t.Fatalf("the form did not save: %q", m.editor.notice)
		}
		got, err := db.Get(context.Background(), mt.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Fields["status"]
	}
	if got := save(); got != "on_hold" {
		t.Fatalf("status after an edit of the title: %q", got)
	}
	if got := save("left"); got != "open" {
		t.Fatalf("status after choosing the one before on hold: %q", got)
	}
	if got := save("right"); got != "on_hold" {
		t.Fatalf("status after choosing on hold again: %q", got)
	}
}
