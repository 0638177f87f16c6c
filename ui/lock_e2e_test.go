package ui

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lockCanary is a title that must vanish from the screen when locked.
const lockCanary = "Zephyrine Holdings"

// The idle lock and `casefile lock` hide every value on screen behind the
// lock screen; a wrong passphrase keeps it locked; the right one brings the
// records back.
func TestEndToEndLock(t *testing.T) {
	const pass = "lock test passphrase"
	r := newSealedRig(t, pass, "")
	data, cli := r.data, r.cli
	cli("add", "matter", "title="+lockCanary, "client=Ines Moreau")
	hidden := func(screen string) bool {
		return strings.Contains(screen, "Casefile is locked") && !strings.Contains(screen, lockCanary) &&
			!strings.Contains(screen, "Ines") && !strings.Contains(screen, "saved offline")
	}
	start := func(name, idle string) *tmuxSession { return r.start(name, "CASEFILE_IDLE_LOCK="+idle, "") }

	// casefile lock, from another shell.
	s := start("locknow", "0")
	s.waitText(lockCanary)

	// A note written through the UI: sealed like any other write.
	const tuiCanary = "Quasarwick"
	s.addNote("zephyr", lockCanary, "Called about "+tuiCanary)
	s.waitText("Called about "+tuiCanary, "saved offline")
	checkNoPlaintext(t, data, tuiCanary, lockCanary)
	if out := cli("lock"); !strings.Contains(out, "locked") {
		t.Fatalf("casefile lock said %q", out)
	}
	s.waitFor("the lock screen, with no value on it", hidden)
	s.send(true, "not it")
	s.send(false, "Enter")
	screen := s.waitText("That is not the passphrase.")
	if !hidden(screen) {
		t.Fatalf("a wrong passphrase showed something:\n%s", screen)
	}
	s.send(true, pass)
	s.send(false, "Enter")
	s.waitText(lockCanary, "saved offline")
	s.tmux("kill-server") // done with this one; the UI's socket goes with it
	checkNoPlaintext(t, data, tuiCanary, lockCanary)

	// The idle lock: a UI left alone locks itself.
	idle := start("idle", "1s")
	idle.waitFor("the idle lock, with no value on it", hidden)
}

// checkNoPlaintext fails if any file of the data directory (database, WAL,
// shared memory, log, anything) holds one of the words.
func checkNoPlaintext(t *testing.T, dir string, words ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a UI stopping meanwhile closed its database: its -wal and -shm go
		}
		if err != nil {
			return err
		}
		for _, w := range words {
			if strings.Contains(strings.ToLower(string(b)), strings.ToLower(w)) {
				t.Errorf("%s holds %q in plaintext", p, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
