package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/server/servertest"
)

// TestCutRepairLosesNothing cuts doctor --repair of a damaged database
// with two queued notes after each of its steps, as a kill would, and
// once more between the last step's two renames (the damaged file moved
// aside, the repaired one not yet in its place). Whatever the step, the
// next command shows both changes queued or says to repair, doctor
// --repair then ends with both queued, and a sync puts each on the server
// exactly once.
func TestCutRepairLosesNothing(t *testing.T) {
	t.Parallel()
	// Cuts past the repair's last step stop nothing: the repair ran whole.
	const betweenRenames = -1
	cuts := []int{betweenRenames}
	for n := 1; n <= 6; n++ {
		cuts = append(cuts, n)
	}
	for _, cut := range cuts {
		t.Run(fmt.Sprintf("cut %d", cut), func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			h, path, recordsPage, _ := damagedSetupOn(t, srv)
			garblePage(t, path, recordsPage)
			steps := 0
			at := cut
			if cut == betweenRenames {
				at = 1 << 30 // the whole repair, then the cut made by hand
			}
			h.hooks.cutRepair = func() bool { steps++; return steps == at }
			r := h.run("doctor", "--repair")
			h.hooks.cutRepair = nil
			if steps < at && cut != betweenRenames {
				t.Skipf("the repair has %d steps: cut %d is past its end", steps, cut)
			}
			if cut == betweenRenames {
				if r.code != 0 {
					t.Fatalf("doctor --repair: %+v", r)
				}
				// Undo the last rename: the state a kill between the
				// damaged file's move and the repaired one's leaves.
				if err := os.Rename(path, localdb.RepairedPath(path)); err != nil {
					t.Fatal(err)
				}
			}
			checkQueuedAfterCut(t, h, "the next command")
			if r := h.run("doctor", "--repair"); r.code != 0 {
				t.Fatalf("doctor --repair after the cut: %+v", r)
			}
			checkQueuedAfterCut(t, h, "after doctor --repair")
			if out := h.ok("sync"); !strings.HasPrefix(out, "pushed 2,") {
				t.Errorf("sync after the repair: %q", out)
			}
			if r := h.run("doctor"); r.code != 0 {
				t.Errorf("doctor after the sync: %+v", r)
			}
			for _, leftover := range []string{localdb.RepairingPath(path), localdb.RepairedPath(path)} {
				if _, err := os.Stat(leftover); err == nil {
					t.Errorf("%s is still there", filepath.Base(leftover))
				}
			}
			// Another device of alice sees each queued note exactly once.
			again, err := servertest.Login(context.Background(), srv.URL, "alice", servertest.Password, "check")
			if err != nil {
				t.Fatal(err)
			}
			other := newHarness(t)
			other.login(srv.URL, again)
			other.ok("sync")
			notes := other.ok("list", "note")
			for _, title := range []string{"Queued one", "Queued two"} {
				if n := strings.Count(notes, title); n != 1 {
					t.Errorf("%q is on the server %d times:\n%s", title, n, notes)
				}
			}
		})
	}
}

// checkQueuedAfterCut runs queue --json: it must list both queued
// changes, or (the damaged file still in place) fail with the advice to
// repair; a database missing or holding fewer changes lost them.
func checkQueuedAfterCut(t *testing.T, h *harness, when string) {
	t.Helper()
	r := h.run("queue", "--json")
	if r.code != 0 {
		if !strings.Contains(r.stderr, "damaged") || !strings.Contains(r.stderr, "doctor --repair") {
			t.Fatalf("%s: %+v", when, r)
		}
		return
	}
	if n := strings.Count(r.stdout, `"op_id"`); n != 2 {
		t.Fatalf("%s: %d change(s) queued, want 2:\n%s", when, n, r.stdout)
	}
}

// TestMissingDatabaseSalvagesDamagedCopy: a damaged file moved aside with
// no database in its place (what a repair by an older casefile left when
// it was cut off) still holds the queued changes: doctor says so, and
// doctor --repair queues them again in the new database, and a sync puts
// them on the server.
func TestMissingDatabaseSalvagesDamagedCopy(t *testing.T) {
	t.Parallel()
	h, path, recordsPage, _ := damagedSetup(t)
	garblePage(t, path, recordsPage)
	kept := localdb.DamagedPath(path, time.Now())
	if err := localdb.MoveAside(path, kept); err != nil {
		t.Fatal(err)
	}
	if r := h.run("doctor"); r.code != 1 || !strings.Contains(r.stdout, "casefile.db is missing") || !strings.Contains(r.stdout, filepath.Base(kept)) {
		t.Errorf("doctor with a damaged copy beside the missing database: %+v", r)
	}
	r := h.run("doctor", "--repair")
	if r.code != 0 || !strings.Contains(r.stdout, "2 unsent change(s) salvaged from the damaged copy") {
		t.Fatalf("doctor --repair: %+v", r)
	}
	checkQueuedAfterCut(t, h, "after doctor --repair")
	if out := h.ok("sync"); !strings.HasPrefix(out, "pushed 2,") {
		t.Errorf("sync after the repair: %q", out)
	}
	if notes := h.ok("list", "note"); !strings.Contains(notes, "Queued one") || !strings.Contains(notes, "Queued two") {
		t.Errorf("the salvaged notes are not here:\n%s", notes)
	}
}
