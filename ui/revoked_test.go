package ui

import (
	"errors"
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/syncer"
)

// The syncer's revocation hides every value, runs the wipe once, shows
// what it did, and the next key quits; nothing reaches the panes.
func TestRevokedLocksWipesOnceAndQuits(t *testing.T) {
	db := localdbtest.Open(t)
	mustCreate(t, db, "matter", model.Fields{"title": "Harbour wall"})
	wipes := 0
	m := newTestModel(t, Options{DB: db, Wipe: func() (string, error) {
		wipes++
		return "this device was revoked by an administrator: its copy was deleted", nil
	}})
	mustContain(t, screenText(m), "Harbour wall")
	drain(t, m, m.step(syncMsg{Kind: syncer.EventRevoked, Err: syncer.RevokedSentence}))
	drain(t, m, m.step(syncMsg{Kind: syncer.EventRevoked, Err: syncer.RevokedSentence}))
	if wipes != 1 {
		t.Fatalf("%d wipes, want 1", wipes)
	}
	screen := screenText(m)
	mustContain(t, screen, "This device was revoked", "This device was revoked by an administrator: its copy was deleted", "Press any key to quit.")
	mustNotContain(t, screen, "Harbour wall", "Matters")
	cmd := m.step(keyPress("down"))
	if cmd == nil {
		t.Fatal("a key after the wipe does not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("a key after the wipe does not quit")
	}
}

// A wipe that fails says why and still shows nothing of the data.
func TestRevokedWipeFails(t *testing.T) {
	db := localdbtest.Open(t)
	mustCreate(t, db, "matter", model.Fields{"title": "Harbour wall"})
	m := newTestModel(t, Options{DB: db, Wipe: func() (string, error) {
		return "", errors.New("the disk is read-only")
	}})
	drain(t, m, m.step(syncMsg{Kind: syncer.EventRevoked}))
	screen := screenText(m)
	mustContain(t, screen, "Nothing could be deleted: the disk is read-only")
	mustNotContain(t, screen, "Harbour wall")
}
