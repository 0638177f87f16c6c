package cli

import (
	"strings"
	"testing"

	"casefile/localdb"
)

// Another device adds a note to a matter this one deletes with its
// records: the server refuses the matter's delete (it still holds the new
// note), the sync says so and exits 6, and discard --all --state failed
// drops the refused change after a confirmation.
func TestSyncExitsNonZeroWhenTheServerRefusesAndDiscardAll(t *testing.T) {
	a, b, matter, _ := aliceOnTwoDevices(t)
	b.add("note", "matter_id="+matter, "title=Added on the other laptop")
	b.ok("sync")
	a.ok("rm", matter, "--cascade")
	r := a.run("sync")
	if r.code != exitFailed || !strings.Contains(r.stdout, "failed 1") || !strings.Contains(r.stderr, "the server refused 1 change(s)") {
		t.Fatalf("sync with a refused change: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	var ops []localdb.OutboxOp
	a.okJSON(&ops, "queue", "--json")
	if len(ops) != 1 || ops[0].State != localdb.OpFailed || ops[0].RecordID != matter || ops[0].ErrorCode != "matter_not_empty" {
		t.Fatalf("queue after the refusal = %+v", ops)
	}

	if r := a.run("discard", "--all", "--state", "failed"); r.code != 2 || !strings.Contains(r.stderr, "1 change (failed)") || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("discard --all without --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := a.run("discard", "--all", "--state", "syncing", "--yes"); r.code != 2 {
		t.Fatalf("discard --all --state syncing: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := a.ok("discard", "--all", "--state", "retrying", "--yes"); !strings.Contains(out, "Nothing to discard: no change is retrying.") {
		t.Fatalf("discard of no retrying change printed %q", out)
	}
	if out := a.ok("discard", "--all", "--state", "failed", "--yes"); !strings.Contains(out, "Discarded 1 change") {
		t.Fatalf("discard --all printed %q", out)
	}
	a.okJSON(&ops, "queue", "--json")
	if len(ops) != 0 {
		t.Fatalf("queue after discard --all = %+v", ops)
	}
	// The matter is back as the server has it, with the other laptop's note.
	if out := a.ok("sync"); !strings.Contains(out, "failed 0") {
		t.Fatalf("sync after the discard printed %q", out)
	}
	if out := a.ok("list", "note"); !strings.Contains(out, "Added on the other laptop") {
		t.Fatalf("the other laptop's note is not here:\n%s", out)
	}
}

// TestDiscardKeepsAMatterWithItsRecords: the create of a matter that holds
// records made on this device is not discarded alone (its records would
// point at nothing); deleting the matter with them is the way, and leaves
// nothing to send.
func TestDiscardKeepsAMatterWithItsRecords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter := h.add("matter", "title=RM")
	h.add("note", "matter_id="+matter, "title=n1")
	var ops []localdb.OutboxOp
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 2 || ops[0].RecordID != matter {
		t.Fatalf("queue = %+v", ops)
	}
	before := h.snapshot()
	for _, args := range [][]string{{"discard", ops[0].OpID, "--yes"}, {"discard", ops[0].OpID}} {
		if r := h.run(args...); r.code != 1 || !strings.Contains(r.stderr, "holds records (note: 1)") || !strings.Contains(r.stderr, "rm "+matter+" --cascade") {
			t.Errorf("casefile %v: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if h.snapshot() != before {
		t.Fatal("a refused discard changed the database")
	}
	h.ok("rm", matter, "--cascade")
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 0 {
		t.Errorf("queue after the matter went with its records = %+v", ops)
	}
	if out := h.ok("list", "note"); strings.Contains(out, "n1") {
		t.Errorf("the note outlived its matter:\n%s", out)
	}
}
