package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/localdb/localdbtest"
)

// spot finds text on the screen: its first cell and row.
func spot(t *testing.T, m *Model, text string) (x, y int) {
	t.Helper()
	for y, l := range strings.Split(screenText(m), "\n") {
		if i := strings.Index(l, text); i >= 0 {
			return ansi.StringWidth(l[:i]), y
		}
	}
	t.Fatalf("%q is not on the screen:\n%s", text, screenText(m))
	return 0, 0
}

// clickOn clicks the left button on the first cell of text.
func clickOn(t *testing.T, m *Model, text string) {
	t.Helper()
	x, y := spot(t, m, text)
	drain(t, m, m.step(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft}))
}

func TestMouseClicksTabsRowsAndSidebar(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})

	clickOn(t, m, "Notes ")
	if c := m.records.collection(); c.Name != "note" {
		t.Fatalf("a click on Notes in the sidebar shows %s", c.Name)
	}
	clickOn(t, m, "Caretaker statement")
	rec, ok := m.records.selected()
	if !ok || rec.ID != st.conflict.ID {
		t.Fatalf("a click on a row selected %v", rec.Fields["title"])
	}
	if m.detail != nil {
		t.Fatal("the first click on a row opened it")
	}
	clickOn(t, m, "Caretaker statement")
	if m.detail == nil || m.detail.id != st.conflict.ID {
		t.Fatal("a click on the selected row did not open it")
	}

	clickOn(t, m, "3 Backlog")
	if m.screen != screenBacklog {
		t.Fatalf("a click on the backlog tab shows screen %d", m.screen)
	}
	clickOn(t, m, "Call notes")
	op, ok := m.backlog.selected()
	if !ok || op.RecordID != st.retry.ID {
		t.Fatalf("a click on a change selected %s", op.RecordID)
	}
	clickOn(t, m, "1 Records")
	if m.screen != screenRecords {
		t.Fatal("a click on the records tab did not go back")
	}
	// A click on the header or the status line does nothing.
	drain(t, m, m.step(tea.MouseClickMsg{X: 3, Y: 0, Button: tea.MouseLeft}))
	drain(t, m, m.step(tea.MouseClickMsg{X: 3, Y: m.height - 2, Button: tea.MouseLeft}))
	if m.screen != screenRecords || m.detail == nil {
		t.Fatal("a click outside tabs, body and hints changed the screen")
	}
}

// The hint line's keys are buttons: a click presses the key.
func TestMouseClickOnHintPressesKey(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	clickOn(t, m, "n new")
	if m.editor == nil {
		t.Fatal("a click on “n new” did not open the form")
	}
	clickOn(t, m, "esc back")
	if m.editor != nil {
		t.Fatal("a click on “esc back” did not close the untouched form")
	}
	clickOn(t, m, "? all keys")
	if !m.showHelp {
		t.Fatal("a click on “? all keys” did not open the help")
	}
	// A click in the body while the help is open does nothing under it.
	drain(t, m, m.step(tea.MouseClickMsg{X: 5, Y: m.bodyTop() + 3, Button: tea.MouseLeft}))
	if m.detail != nil || m.screen != screenRecords {
		t.Fatal("a click went through the help")
	}
	x, y := spot(t, m, "q quit")
	if _, ok := m.step(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})().(tea.QuitMsg); !ok {
		t.Fatal("a click on “q quit” did not quit")
	}
}

// A click on an entry of the activity feed opens its record.
func TestMouseClickOnActivityOpensRecord(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	press(t, m, "4")
	clickOn(t, m, "Questions for the surveyor")
	if m.detail == nil || m.detail.id != st.saved.ID || m.screen != screenRecords {
		t.Fatal("a click on an activity entry did not open its record")
	}
	// The sparklines above the feed are not entries.
	press(t, m, "esc", "4")
	m.detail = nil
	drain(t, m, m.step(tea.MouseClickMsg{X: 3, Y: m.bodyTop(), Button: tea.MouseLeft}))
	if m.detail != nil {
		t.Fatal("a click on the sparkline opened a record")
	}
}
