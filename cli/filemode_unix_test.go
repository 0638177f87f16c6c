//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
)

// TestDataDirOpenToOthers: in a data directory other users can enter
// (made by hand, or by another program), the database is made the
// owner's alone all the same, and the directory is warned about when the
// database is made or its mode mended (not at every command of a script);
// the commands run.
func TestDataDirOpenToOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.data = t.TempDir() // a new directory: the first start makes the database
	db := filepath.Join(h.data, config.DBFile)
	if err := os.Chmod(h.data, 0o755); err != nil {
		t.Fatal(err)
	}
	const warning = "is open to other users (mode 0755)"
	private := func() {
		t.Helper()
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	r := h.run("add", "matter", "title=Smith v Jones")
	if r.code != 0 || strings.Count(r.stderr, warning) != 1 || !strings.Contains(r.stderr, "chmod 700 "+h.data) {
		t.Fatalf("the first start in a directory open to others: %+v", r)
	}
	private()
	if r := h.run("list", "matter"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Smith v Jones") {
		t.Fatalf("the next start: %+v", r)
	}
	// A database readable by everyone (an older casefile made it so) is
	// mended, and the directory named again.
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := h.run("list", "matter"); r.code != 0 || strings.Count(r.stderr, warning) != 1 {
		t.Fatalf("a database readable by everyone: %+v", r)
	}
	private()
	if err := os.Chmod(h.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := h.run("list", "matter"); r.code != 0 || r.stderr != "" {
		t.Fatalf("a private directory: %+v", r)
	}
	private()
}
