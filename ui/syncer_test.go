package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/syncer"
)

// calls returns what the UI asked of the stand-in syncer so far.
func (s *standInSyncer) calls() (nudges, syncs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nudges, s.syncs
}

// Every write of the UI tells the syncer at once, so the change goes out
// without waiting for the syncer's next look at the database; a write that
// fails does not, nor does anything while working offline.
func TestWritesNudgeTheSyncer(t *testing.T) {
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Hour))
	s := newStandIn(syncer.Online)
	m := New(Options{DB: db, Syncer: s, User: "alice", Server: "127.0.0.1:8750",
		Now: func() time.Time { return fixedNow }, Getenv: func(string) string { return "" }})
	m.sh.Tick = noTick
	m.step(tea.WindowSizeMsg{Width: 100, Height: 30})
	drain(t, m, m.refreshAll())
	want := func(step string, nudges, syncs int) {
		t.Helper()
		if n, y := s.calls(); n != nudges || y != syncs {
			t.Fatalf("after %s: %d nudges and %d full syncs, want %d and %d", step, n, y, nudges, syncs)
		}
	}

	// A save.
	drain(t, m, m.step(editMsg{collection: "note", rec: &st.saved}))
	focusField(t, m, "title")
	typeText(t, m, " again")
	press(t, m, "ctrl+s")
	if m.editor != nil {
		t.Fatalf("the edit was not saved: %q", m.editor.notice)
	}
	want("a save", 1, 0)

	// A save refused by validation writes nothing and tells nobody.
	drain(t, m, m.step(editMsg{collection: "note", rec: &st.saved}))
	focusField(t, m, "title")
	press(t, m, "ctrl+u", "ctrl+s")
	if m.editor == nil {
		t.Fatal("an empty required title was saved")
	}
	want("a refused save", 1, 0)
	press(t, m, "esc", "y")

	// A delete.
	drain(t, m, askDelete(m.sh, st.synced))
	drain(t, m, m.step(nil)) // the app takes the question
	press(t, m, "y")
	want("a delete", 2, 0)

	// A resolution.
	press(t, m, "2")
	m.conflicts.show(st.conflict.ID)
	press(t, m, "M", "a")
	want("a resolution", 3, 0)

	// Retry now is a person asking for now: a full cycle, past any backoff.
	press(t, m, "3")
	selectOp(t, m, st.retry.ID)
	press(t, m, "r")
	want("a retry", 3, 1)

	// A discard.
	selectOp(t, m, st.failed.ID)
	press(t, m, "x", "y")
	want("a discard", 4, 1)

	// Working offline: saved here, nothing asked of the syncer.
	press(t, m, "o")
	drain(t, m, m.step(editMsg{collection: "note", rec: &st.saved}))
	focusField(t, m, "status")
	press(t, m, "right", "ctrl+s")
	if m.editor != nil {
		t.Fatalf("the edit was not saved: %q", m.editor.notice)
	}
	want("a save while working offline", 4, 1)
}

func workOffline(t *testing.T, m *Model) bool {
	t.Helper()
	on, err := m.sh.DB.WorkOffline(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return on
}

func TestWorkOfflineIsRememberedForTheNextStart(t *testing.T) {
	m, s := newSyncModel(t, syncer.Online)
	press(t, m, "o")
	if !workOffline(t, m) {
		t.Fatal("working offline was not remembered")
	}
	press(t, m, "o")
	if workOffline(t, m) {
		t.Fatal("going back online was not remembered")
	}

	// Two quick switches whose commands run the wrong way round: the last
	// one made wins, in the syncer and in the database.
	first, second := m.step(keyPress("o")), m.step(keyPress("o"))
	drain(t, m, second)
	drain(t, m, first)
	if workOffline(t, m) {
		t.Fatal("an earlier switch, applied late, undid the later one")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := []bool{true, false, false}; fmt.Sprint(s.offline) != fmt.Sprint(want) {
		t.Fatalf("the syncer was switched %v, want %v", s.offline, want)
	}
}

func TestStartingWhileWorkingOfflineSaysSo(t *testing.T) {
	m, _ := newSyncModel(t, syncer.WorkOffline)
	mustContain(t, screenText(m), "◌ working offline", "You are still working offline, as you chose: nothing is sent or received until you press o.")
	press(t, m, "right", "right", "e")
	focusField(t, m, "title")
	typeText(t, m, " (edited)")
	press(t, m, "ctrl+s")
	mustContain(t, screenText(m), "↑ saved offline", "You are working offline: it syncs when you press o again.")
}
