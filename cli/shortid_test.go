package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestShortIDsTellRecordsApart: the short ids files and show print are
// starts of ids that name one record (or queued change) each, and the
// commands that take ids take them back. They used to be the first block
// of a UUIDv7, its time: every record made in the same minute or so
// showed the same one, which no command could resolve.
func TestShortIDsTellRecordsApart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, _ := h.seed()
	notes := []string{
		h.add("note", "matter_id="+matter, "title=Second"),
		h.add("note", "matter_id="+matter, "title=Third"),
	}
	if notes[0][:8] != notes[1][:8] {
		t.Skip("the notes were made in different minutes: nothing to tell apart")
	}
	src := filepath.Join(t.TempDir(), "exhibit.txt")
	if err := os.WriteFile(src, []byte("exhibit"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		h.ok("attach", n, src)
	}

	shown := map[string]string{} // the RECORD column, by record
	for _, line := range strings.Split(strings.TrimSpace(h.ok("files")), "\n")[1:] {
		fields := strings.Fields(line)
		short := fields[len(fields)-1]
		for _, n := range notes {
			if strings.HasPrefix(n, short) {
				shown[n] = short
			}
		}
	}
	if len(shown) != 2 || shown[notes[0]] == shown[notes[1]] {
		t.Fatalf("files shows the records as %v: want a different start for each of %v", shown, notes)
	}
	for n, short := range shown {
		if out := h.ok("show", short); !strings.Contains(out, n) {
			t.Errorf("show %s (the short id files printed for %s):\n%s", short, n, out)
		}
	}

	opLine := regexp.MustCompile(`\(op ([0-9a-f-]+)\)`)
	ops := map[string]bool{}
	for _, n := range notes {
		m := opLine.FindStringSubmatch(h.ok("show", n))
		if m == nil {
			t.Fatalf("show %s names no queued change", n)
		}
		ops[m[1]] = true
		if r := h.run("retry", m[1]); r.code != 0 || !strings.Contains(r.stdout, "already on its way") {
			t.Errorf("retry %s (the op id show printed): exit %d\n%s%s", m[1], r.code, r.stdout, r.stderr)
		}
	}
	if len(ops) != 2 {
		t.Errorf("show prints the same op id %v for the queued changes of two records", ops)
	}
}
