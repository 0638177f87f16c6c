package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
)

func TestScrollerKeysPageAndWheel(t *testing.T) {
	keys := DefaultKeyMap()
	s := newScroller(&keys)
	s.SetRows(10)
	s.SetLen(100)
	steps := []struct {
		msg         tea.Msg
		cursor, top int
	}{
		{keyPress("down"), 1, 0},
		{keyPress("j"), 2, 0},
		{keyPress("ctrl+d"), 7, 0}, // half a page of 10
		{keyPress("pgdown"), 17, 8},
		{keyPress("ctrl+u"), 12, 8},
		{keyPress("pgup"), 2, 2},
		{keyPress("ctrl+d"), 7, 2},
		{tea.MouseWheelMsg{Button: tea.MouseWheelDown}, 10, 2},
		{tea.MouseWheelMsg{Button: tea.MouseWheelUp}, 7, 2},
		{keyPress("G"), 99, 90},
		{keyPress("down"), 99, 90},
		{keyPress("g"), 0, 0},
		{keyPress("up"), 0, 0},
	}
	for i, st := range steps {
		if !s.Update(st.msg) {
			t.Fatalf("step %d: %v not handled", i, st.msg)
		}
		if s.Cursor() != st.cursor || s.Top() != st.top {
			t.Fatalf("step %d (%v): cursor %d top %d, want %d %d", i, st.msg, s.Cursor(), s.Top(), st.cursor, st.top)
		}
	}
	if s.Update(keyPress("x")) {
		t.Fatal("a key that is not a list key was taken")
	}
}

func TestScrollerKeepsCursorWhenListShrinks(t *testing.T) {
	keys := DefaultKeyMap()
	s := newScroller(&keys)
	s.SetRows(5)
	s.SetLen(50)
	s.Select(40)
	s.SetLen(10)
	if s.Cursor() != 9 {
		t.Fatalf("cursor %d after the list shrank to 10, want 9", s.Cursor())
	}
	if from, to := s.Visible(); from > 9 || to != 10 {
		t.Fatalf("visible [%d,%d), want the cursor's row 9 in sight", from, to)
	}
	s.SetLen(0)
	if s.Cursor() != 0 || s.Top() != 0 {
		t.Fatalf("empty list: cursor %d top %d", s.Cursor(), s.Top())
	}
}

func TestScrollerFollowScrollsLineByLine(t *testing.T) {
	keys := DefaultKeyMap()
	s := newScroller(&keys)
	s.follow = true
	s.page = 4
	s.SetRows(8)
	s.SetLen(20)
	s.Update(keyPress("pgdown"))
	s.Update(keyPress("down"))
	if s.Top() != 5 || s.Cursor() != 5 {
		t.Fatalf("top %d cursor %d, want 5 5", s.Top(), s.Cursor())
	}
	s.Update(keyPress("ctrl+d")) // half of the page of 4
	if s.Top() != 7 || s.Cursor() != 7 {
		t.Fatalf("after ctrl+d: top %d cursor %d, want 7 7", s.Top(), s.Cursor())
	}
}

// Every list pane moves half a page with ctrl+d and ctrl+u through the
// one scroller.
func TestPanesPageWithCtrlD(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", map[string]any{"title": "Paging"})
	for i := range 60 {
		mustCreate(t, db, "note", map[string]any{"title": "note " + string(rune('A'+i%26)), "matter_id": mt.ID})
	}
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right")
	mustContain(t, screenText(m), "1 of 60")
	press(t, m, "ctrl+d")
	if c := m.records.list.Cursor(); c != m.records.listRows()/2 {
		t.Fatalf("records cursor %d after ctrl+d, want half a page (%d)", c, m.records.listRows()/2)
	}
	press(t, m, "ctrl+u")
	mustContain(t, screenText(m), "1 of 60")
	press(t, m, "4", "ctrl+d")
	if m.activity.list.Top() == 0 {
		t.Fatal("ctrl+d did not page the activity feed")
	}
	press(t, m, "3", "ctrl+d")
	if m.backlog.list.Cursor() == 0 {
		t.Fatal("ctrl+d did not page the backlog")
	}
}
