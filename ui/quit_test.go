package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
)

// quits reports whether cmd, run, asks the program to end.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if quits(c) {
				return true
			}
		}
	}
	return false
}

// ctrl+c in a half-filled form asks before throwing it away; a second
// ctrl+c, or yes, quits. An untouched form or a list quits at once.
func TestCtrlCInHalfFilledFormAsks(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Smith v. Jones", 0)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "n")
	if !quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("ctrl+c in an untouched form did not quit")
	}
	m = newTestModel(t, Options{DB: db})
	press(t, m, "n", "tab")
	typeText(t, m, "Half a matter")
	if quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("ctrl+c threw a half-filled form away without asking")
	}
	mustContain(t, screenText(m), "Quit Casefile without saving this form?")
	press(t, m, "n")
	if m.editor == nil || m.ask != nil {
		t.Fatal("no did not go back to the form")
	}
	mustContain(t, screenText(m), "Half a matter")
	m.step(keyPress("ctrl+c"))
	if !quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("a second ctrl+c did not quit")
	}
	m.ask = nil
	m.step(keyPress("ctrl+c"))
	if !quits(m.step(keyPress("y"))) {
		t.Fatal("yes did not quit")
	}
}

// ctrl+c with a merged value typed asks before throwing it away, as the
// record editor does; untouched, it quits at once.
func TestCtrlCWhileMergingAsks(t *testing.T) {
	db := localdbtest.Open(t)
	seedBodyConflicts(t, db, "Caretaker statement")
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2", "e")
	if !quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("ctrl+c in an untouched merge did not quit")
	}
	m = newTestModel(t, Options{DB: db})
	press(t, m, "2", "e")
	typeText(t, m, "half a merge")
	if quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("ctrl+c threw a typed merge away without asking")
	}
	mustContain(t, screenText(m), "Quit Casefile without keeping this merge?")
	press(t, m, "n")
	if !m.conflicts.editing || m.ask != nil {
		t.Fatal("no did not go back to the merge")
	}
	mustContain(t, screenText(m), "half a merge")
	m.step(keyPress("ctrl+c"))
	if !quits(m.step(keyPress("ctrl+c"))) {
		t.Fatal("a second ctrl+c did not quit")
	}
}
