package cli

import (
	"strings"
	"testing"
)

// A matter that holds records is deleted only with --cascade, which takes
// its records with it; without, nothing changes and the refusal counts
// what it holds.
func TestRmMatterRefusedWithCountsOrCascaded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter := h.add("matter", "title=Smith v Jones")
	h.add("note", "matter_id="+matter, "title=One")
	h.add("note", "matter_id="+matter, "title=Two")
	h.add("task", "matter_id="+matter, "title=Call")
	other := h.add("matter", "title=Other")
	kept := h.add("note", "matter_id="+other, "title=Kept")
	before := h.snapshot()
	r := h.run("rm", matter)
	if r.code != 1 || !strings.Contains(r.stderr, `the matter “Smith v Jones” still holds records (note: 2, task: 1); nothing was deleted`) ||
		!strings.Contains(r.stderr, "casefile rm "+matter+" --cascade") {
		t.Fatalf("rm of a matter holding records: exit %d, stderr %q", r.code, r.stderr)
	}
	if h.snapshot() != before {
		t.Fatal("a refused rm changed the database")
	}
	if r := h.run("rm", kept, "--cascade"); r.code != 2 || !strings.Contains(r.stderr, "--cascade is for matters") {
		t.Fatalf("--cascade on a note: exit %d, stderr %q", r.code, r.stderr)
	}
	out := h.ok("rm", matter, "--cascade")
	if !strings.Contains(out, "Deleted 3 records with the matter.") || !strings.Contains(out, `Deleted matter "Smith v Jones"`) {
		t.Fatalf("rm --cascade printed %q", out)
	}
	if h.count("note") != 1 || h.count("task") != 0 || h.count("matter") != 1 {
		t.Fatalf("after the cascade: %d notes, %d tasks, %d matters", h.count("note"), h.count("task"), h.count("matter"))
	}
}
