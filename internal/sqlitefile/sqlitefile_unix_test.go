//go:build unix

package sqlitefile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPrivate: a new database file is made 0600 whatever the umask lets
// through; an existing one and its side files lose the group's and
// others' bits and keep the owner's, so a file its owner made read-only
// stays read-only.
func TestPrivate(t *testing.T) {
	// The umask is the process's: this test does not run in parallel.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}

	fresh := filepath.Join(t.TempDir(), "new.db")
	if err := Private(fresh); err != nil {
		t.Fatal(err)
	}
	if got := mode(fresh); got != Mode {
		t.Errorf("a new database file has mode %#o, want %#o", got, Mode)
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "old.db")
	want := map[string]os.FileMode{db: 0o644, db + "-wal": 0o666, db + "-shm": 0o640, db + "-journal": 0o444}
	for p, m := range want {
		if err := os.WriteFile(p, nil, m); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := Private(db); err != nil {
		t.Fatal(err)
	}
	for p, m := range want {
		if got := mode(p); got != m&Mode {
			t.Errorf("%s has mode %#o, want %#o", filepath.Base(p), got, m&Mode)
		}
	}
	// A file someone else's program keeps beside it is not touched.
	other := filepath.Join(dir, "old.db.txt")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Private(db); err != nil {
		t.Fatal(err)
	}
	if got := mode(other); got != 0o644 {
		t.Errorf("an unrelated file's mode changed to %#o", got)
	}
}
