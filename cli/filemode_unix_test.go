//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
)

// TestDataDirOpenToOthers: a data directory other users can enter (made by
// hand, or by another program) is warned about once per command, and the
// command still runs; the database and its side files are the owner's
// alone in it all the same.
func TestDataDirOpenToOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := os.Chmod(h.data, 0o755); err != nil {
		t.Fatal(err)
	}
	h.add("matter", "title=Smith v Jones")
	r := h.run("list", "matter")
	if r.code != 0 || !strings.Contains(r.stdout, "Smith v Jones") ||
		strings.Count(r.stderr, "open to other users (mode 0755)") != 1 || !strings.Contains(r.stderr, "chmod 700 "+h.data) {
		t.Fatalf("list in a directory open to others: %+v", r)
	}
	for _, name := range []string{config.DBFile, config.DBFile + "-wal", config.DBFile + "-shm"} {
		fi, err := os.Stat(filepath.Join(h.data, name))
		if err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", name, fi.Mode().Perm())
		}
	}
	if err := os.Chmod(h.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := h.run("list", "matter"); r.code != 0 || r.stderr != "" {
		t.Fatalf("list in a private directory: %+v", r)
	}
}
