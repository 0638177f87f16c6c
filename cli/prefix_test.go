package cli

import (
	"strings"
	"testing"
)

// TestShortIDsAndMatterNames names records by the start of their ids,
// as git does commits, and matters by their titles: a unique start
// works in every command, an ambiguous one lists the candidates, and
// nothing is changed by a refused one.
func TestShortIDsAndMatterNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, note := h.seed()
	other := h.add("matter", "title=Smith Estate")
	h.add("note", "matter_id="+other, "title=Estate inventory")

	// The shortest start of the note's id no other id shares.
	short := ""
	for n := minPrefix; n <= len(note); n++ {
		p := note[:n]
		if !strings.HasPrefix(matter, p) && !strings.HasPrefix(other, p) && p[len(p)-1] != '-' {
			if r := h.run("show", p); r.code == 0 {
				short = p
				break
			}
		}
	}
	if short == "" || len(short) >= len(note) {
		t.Fatalf("no start of %s names it alone", note)
	}
	if out := h.ok("show", short); !strings.Contains(out, note) || !strings.Contains(out, "First meeting") {
		t.Errorf("show %s:\n%s", short, out)
	}
	h.ok("edit", short, "title=Renamed by a short id")
	if title, _ := h.field(note, "title"); title != "Renamed by a short id" {
		t.Errorf("edit by a short id left the title %q", title)
	}
	if out := h.ok("journal", "--record", short); !strings.Contains(out, "Renamed by a short id") {
		t.Errorf("journal --record %s:\n%s", short, out)
	}

	// Every id here was made within moments: they share a start, which
	// is ambiguous and says which records it could be.
	common := note[:minPrefix]
	before := h.snapshot()
	r := h.run("rm", common)
	if r.code == 0 || !strings.Contains(r.stderr, "starts the id of more than one record") ||
		!strings.Contains(r.stderr, note) || !strings.Contains(r.stderr, "“Smith Estate”") {
		t.Errorf("rm %s: exit %d\n%s", common, r.code, r.stderr)
	}
	if h.snapshot() != before {
		t.Error("an ambiguous id changed the database")
	}
	if r := h.run("show", "ffff"); r.code == 0 || !strings.Contains(r.stderr, "no record with an id starting ffff") {
		t.Errorf("show of an unknown start: %+v", r)
	}
	if r := h.run("show", "abc"); r.code != 1 || !strings.Contains(r.stderr, "is not a record id") {
		t.Errorf("show of a too short start: %+v", r)
	}

	// --matter by title, start of title (case aside) or id.
	for _, m := range []string{"Smith v Jones", "smith v", matter, matter[:len(matter)-4]} {
		out := h.ok("list", "note", "--matter", m)
		if !strings.Contains(out, "Renamed by a short id") || strings.Contains(out, "Estate inventory") {
			t.Errorf("list note --matter %q:\n%s", m, out)
		}
	}
	r = h.run("list", "note", "--matter", "Smith")
	if r.code == 0 || !strings.Contains(r.stderr, "could be any of 2 matters") || !strings.Contains(r.stderr, other) {
		t.Errorf("an ambiguous matter name: %+v", r)
	}
	if r := h.run("list", "note", "--matter", "Nobody"); r.code == 0 || !strings.Contains(r.stderr, `no matter titled "Nobody"`) {
		t.Errorf("an unknown matter name: %+v", r)
	}
	// add --id still wants a whole id: it names a new record.
	if r := h.run("add", "note", "--id", note[:8], "matter_id="+matter, "title=x"); r.code == 0 || !strings.Contains(r.stderr, "is not a record id (a new record takes a whole id") {
		t.Errorf("add --id with a short id: %+v", r)
	}
}
