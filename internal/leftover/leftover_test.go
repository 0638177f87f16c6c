package leftover

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestMade(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{".x.tmp123", true},
		{".x.tmp", false},
		{".x.tmp12a", false},
		{"x.tmp1", false},
		{".x.tmp1/", false},
	} {
		if got := Made(c.name, ".x.tmp"); got != c.want {
			t.Errorf("Made(%q) = %v", c.name, got)
		}
	}
}

// Sweep removes matching files older than the age and nothing else; an
// age of 0 removes every matching file.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * StaleAge)
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(".a.tmp1", old)
	write(".a.tmp2", time.Now())
	write("a", old)
	if err := os.Mkdir(filepath.Join(dir, ".a.tmp3"), 0o700); err != nil {
		t.Fatal(err)
	}
	match := func(n string) bool { return Made(n, ".a.tmp") }
	names := func() []string {
		es, _ := os.ReadDir(dir)
		var ns []string
		for _, e := range es {
			ns = append(ns, e.Name())
		}
		return ns
	}
	if err := Sweep(dir, match, StaleAge); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{".a.tmp2", ".a.tmp3", "a"}) {
		t.Fatalf("after a sweep of stale ones: %v", got)
	}
	if err := Sweep(dir, match, 0); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{".a.tmp3", "a"}) {
		t.Fatalf("after a sweep of all: %v", got)
	}
	if err := Sweep(filepath.Join(dir, "none"), match, 0); err != nil {
		t.Fatalf("a missing directory: %v", err)
	}
}
