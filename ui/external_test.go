package ui

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/model"
)

// fakeEditor writes an editor script into a temporary directory: it
// records the text it was given in seen and replaces it with the lines of
// script's output.
func fakeEditor(t *testing.T, body string) (editor, seen string) {
	t.Helper()
	dir := t.TempDir()
	editor, seen = filepath.Join(dir, "fake-editor"), filepath.Join(dir, "seen.txt")
	script := "#!/bin/sh\ncp \"$1\" " + seen + "\n" + body + "\n"
	if err := os.WriteFile(editor, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return editor, seen
}

// runNow runs a program as tea.ExecProcess would, without a terminal to
// hand over.
func runNow(c *exec.Cmd, fn tea.ExecCallback) tea.Cmd {
	return func() tea.Msg { return fn(c.Run()) }
}

// ctrl+e on a long text field runs $EDITOR on its text and takes back
// what the editor saved; the form saves it like typed text.
func TestEditorCtrlEEditsLongTextInEditor(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Site visit", "body": "Damp in the hall."})
	editor, seen := fakeEditor(t, `printf 'Damp in the hall.\nMould behind the wardrobe.\n' > "$1"`)
	m := newTestModel(t, Options{DB: db, Getenv: envOf("EDITOR", editor)})
	m.sh.Exec = runNow
	m.step(editMsg{collection: "note", rec: &note})
	focusField(t, m, "body")
	mustContain(t, screenText(m), "ctrl+e in your editor", "ctrl+e edit in $EDITOR")
	press(t, m, "ctrl+e")
	if b, err := os.ReadFile(seen); err != nil || string(b) != "Damp in the hall." {
		t.Fatalf("the editor was given %q (%v)", b, err)
	}
	body := m.editor.fields[m.editor.focus]
	if body.f.Name != "body" || body.area.Value() != "Damp in the hall.\nMould behind the wardrobe." {
		t.Fatalf("after the editor the %s field holds %q", body.f.Name, body.area.Value())
	}
	mustContain(t, screenText(m), "Mould behind the wardrobe.")
	press(t, m, "ctrl+s")
	rec, err := db.Get(context.Background(), note.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Fields["body"] != "Damp in the hall.\nMould behind the wardrobe." {
		t.Fatalf("saved body %q", rec.Fields["body"])
	}
}

// An editor that fails leaves the text as it was and says why.
func TestEditorCtrlEFailingEditorKeepsText(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "M"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "T", "body": "Keep me."})
	editor, _ := fakeEditor(t, `echo gone > "$1"; exit 3`)
	m := newTestModel(t, Options{DB: db, Getenv: envOf("VISUAL", editor)})
	m.sh.Exec = runNow
	m.step(editMsg{collection: "note", rec: &note})
	focusField(t, m, "body")
	press(t, m, "ctrl+e")
	if v := m.editor.fields[m.editor.focus].area.Value(); v != "Keep me." {
		t.Fatalf("a failed editor changed the text to %q", v)
	}
	mustContain(t, screenText(m), "The text was not changed: fake-editor ended with exit status 3")
	// A one-line field keeps ctrl+e for its own use (end of line).
	focusField(t, m, "title")
	if cmd := m.step(keyPress("ctrl+e")); cmd != nil {
		if _, ok := cmd().(externalReadyMsg); ok {
			t.Fatal("ctrl+e on a one-line field started the editor")
		}
	}
}

// TestEndToEndCtrlEEditor runs the real binary in tmux with $EDITOR a
// script: ctrl+e in a note's body hands the terminal to it, and what it
// wrote is in the form when the UI comes back, and saved with ctrl+s.
func TestEndToEndCtrlEEditor(t *testing.T) {
	r := newSealedRig(t, "", "")
	cli := r.cli
	matter := cli("add", "matter", "title=Lindqvist v. Northgate Homes")
	note := cli("add", "note", "matter_id="+matter, "title=Site visit", "body=Damp in the hall.")
	editor, _ := fakeEditor(t, `printf '\nMould behind the wardrobe.\n' >> "$1"`)
	s := r.start("tui", "VISUAL= EDITOR="+editor, "")
	s.waitText("Lindqvist v. Northgate")
	s.send(false, "right", "right")
	// The note selected in the notes list: "Site visit" alone is on
	// screen from the start, in the sidebar's "Site visits".
	s.waitText("Notes · all matters", "│▸Site visit ")
	s.send(false, "e")
	s.waitText("Edit note")
	s.send(false, "Tab")
	s.waitText("ctrl+e in your editor")
	s.send(false, "C-e")
	s.waitText("Mould behind the wardrobe.", "Edit note")
	s.send(false, "C-s")
	s.waitText("Saved on this computer")
	if got := cli("show", note); !strings.Contains(got, "Mould behind the wardrobe.") {
		t.Fatalf("the saved note does not hold the editor's text:\n%s", got)
	}
}

// The text handed to the editor is written in the UI's own directory
// (Options.TempDir), which a later command removes when the UI is killed,
// not in the system's temporary directory, and removed once edited.
func TestEditorTextGoesInTheUIsDirectory(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Site visit", "body": "Damp in the hall."})
	own := t.TempDir()
	where := filepath.Join(t.TempDir(), "where")
	editor, _ := fakeEditor(t, `printf '%s' "$1" > `+where)
	m := newTestModel(t, Options{DB: db, Getenv: envOf("EDITOR", editor), TempDir: own})
	m.sh.Exec = runNow
	m.step(editMsg{collection: "note", rec: &note})
	focusField(t, m, "body")
	press(t, m, "ctrl+e")
	b, err := os.ReadFile(where)
	if err != nil || filepath.Dir(string(b)) != own {
		t.Fatalf("the editor's file was %q (%v), want one in %s", b, err, own)
	}
	if es, _ := os.ReadDir(own); len(es) != 0 {
		t.Fatalf("the edited text was left in %s", own)
	}
}
