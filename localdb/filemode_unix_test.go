//go:build unix

package localdb

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDatabaseFilesArePrivate: a new database file, and the WAL and shared
// memory SQLite makes beside it, are readable by their owner only whatever
// the umask lets through; an existing database that other users could read
// (copied in, or made by an older casefile) is made private at open, with
// its side files.
func TestDatabaseFilesArePrivate(t *testing.T) {
	// The umask is the process's: this test does not run in parallel.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	check := func(path string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(p), err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), perm)
			}
		}
	}

	fresh := filepath.Join(t.TempDir(), "casefile.db")
	db := openAt(t, fresh)
	mustMatter(t, db, "Smith v Jones")
	check(fresh)
	db.Close()

	// An old database, readable by everyone, with a WAL and shared
	// memory as a crash leaves them.
	copied := filepath.Join(t.TempDir(), "casefile.db")
	db = openAt(t, copied)
	mustMatter(t, db, "Smith v Jones")
	db.Close()
	if err := os.Chmod(copied, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{copied + "-wal", copied + "-shm"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = openAt(t, copied)
	mustMatter(t, db, "Smith v Jones")
	check(copied)
	db.Close()
}
