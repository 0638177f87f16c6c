package ui

import (
	"strings"
	"testing"
)

// TestEndToEndDeleteMatter: the CLI refuses to delete a matter that holds
// records and says how many; the UI asks twice and deletes them with it.
func TestEndToEndDeleteMatter(t *testing.T) {
	r := newSealedRig(t, "", "") // a config named explicitly must exist: an empty one
	cli, must := r.run, r.cli
	matter := must("add", "matter", "title=Lindqvist v. Northgate Homes")
	must("add", "note", "matter_id="+matter, "title=Mould in the bedroom")
	must("add", "task", "matter_id="+matter, "title=Call the surveyor")
	out, err := cli("rm", matter)
	if err == nil || !strings.Contains(out, "still holds records (note: 1, task: 1); nothing was deleted") {
		t.Fatalf("rm of a matter holding records: %v\n%s", err, out)
	}

	s := r.start("tui", "", "")
	s.waitText("◇ local only", "Lindqvist v. Northgate")
	s.send(false, "d")
	s.waitText("holds 2 records (note:", "You are asked once more.")
	s.send(false, "n")
	s.waitFor("the question to close", func(screen string) bool { return !strings.Contains(screen, "holds 2 records") })
	s.send(false, "d")
	s.waitText("holds 2 records")
	s.send(false, "y")
	s.waitText("Really delete")
	s.send(false, "y")
	s.waitText("Deleted “Lindqvist v. Northgate Homes” and the 2 records it held.")
	if out := must("list", "note"); strings.Contains(out, "Mould") {
		t.Fatalf("the note outlived its matter:\n%s", out)
	}
	if out := must("list", "task"); strings.Contains(out, "surveyor") {
		t.Fatalf("the task outlived its matter:\n%s", out)
	}
}
