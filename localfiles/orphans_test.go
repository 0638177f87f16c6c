package localfiles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// SweepOrphans asks once, with every file no wipe kept, and removes those
// the answer names that are OrphanAge old.
func TestSweepOrphans(t *testing.T) {
	root := filepath.Join(t.TempDir(), DirName)
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	put := func(s string, age time.Duration) string {
		h, _, err := d.Import(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := d.path(h)
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return h
	}
	old := OrphanAge + time.Minute
	orphan, young, named, kept := put("orphan", old), put("young", OrphanAge-time.Minute), put("named", old), put("kept", old)
	if err := os.WriteFile(KeptPath(root), EncodeKept(map[string]bool{kept: true}), 0o600); err != nil {
		t.Fatal(err)
	}
	var asked [][]string
	n, err := d.SweepOrphans(func(hs []string) ([]string, error) {
		asked = append(asked, slices.Sorted(slices.Values(hs)))
		return slices.DeleteFunc(slices.Clone(hs), func(h string) bool { return h == named }), nil
	})
	if err != nil || n != 1 {
		t.Fatalf("SweepOrphans = %d, %v; want 1 file removed", n, err)
	}
	if want := slices.Sorted(slices.Values([]string{orphan, young, named})); len(asked) != 1 || !slices.Equal(asked[0], want) {
		t.Fatalf("asked %v, want once with every file but the kept one", asked)
	}
	for h, want := range map[string]bool{orphan: false, young: true, named: true, kept: true} {
		if ok, _ := d.Has(h); ok != want {
			t.Errorf("%s held: %v, want %v", h[:8], ok, want)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(root, "tmp")); len(es) != 0 {
		t.Errorf("the sweep left %d files in tmp/", len(es))
	}
}
