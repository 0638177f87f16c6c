package localdb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFinishRepairResumes: the repaired database takes the damaged one's
// place with the damaged file and its WAL kept together aside, also when
// a first run was cut after it moved the damaged file and before the
// repaired one's rename; the new names are copies a wipe deletes.
func TestFinishRepairResumes(t *testing.T) {
	for _, cutAfterMove := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "casefile.db")
		for p, body := range map[string]string{path: "damaged", path + "-wal": "damaged wal", RepairedPath(path): "repaired", RepairingPath(path) + "-wal": "half"} {
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		copies, err := Copies(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{RepairedPath(path), RepairingPath(path) + "-wal"} {
			if !slices.Contains(copies, want) {
				t.Errorf("Copies leaves out %s: %v", filepath.Base(want), copies)
			}
		}
		if cutAfterMove {
			fi, err := os.Stat(RepairedPath(path))
			if err != nil {
				t.Fatal(err)
			}
			if err := MoveAside(path, DamagedPath(path, fi.ModTime())); err != nil {
				t.Fatal(err)
			}
		}
		kept, err := FinishRepair(path)
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{path: "repaired", kept: "damaged", kept + "-wal": "damaged wal"} {
			if got, err := os.ReadFile(p); err != nil || string(got) != want {
				t.Errorf("cut after the move %v: %s holds %q (%v), want %q", cutAfterMove, filepath.Base(p), got, err, want)
			}
		}
		for _, gone := range []string{path + "-wal", RepairedPath(path)} {
			if _, err := os.Stat(gone); err == nil {
				t.Errorf("%s is still there", filepath.Base(gone))
			}
		}
		if again, err := FinishRepair(path); err != nil || again != "" {
			t.Errorf("a second FinishRepair: %q, %v", again, err)
		}
		if d, err := DamagedCopies(path); err != nil || len(d) != 1 || d[0] != kept {
			t.Errorf("DamagedCopies: %v, %v; want [%s]", d, err, kept)
		}
	}
}
