package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
)

// TestRepairSwapExcludesAStart: a command starting while doctor --repair
// swaps its new database in finishes a repair it finds cut off
// (finishRepair) — the same swap. Run side by side, the start could see
// the repaired file before the repair's swap and move the database aside
// after it, taking the new database for the damaged one. The repair
// holds the repair lock from naming its new database complete to the
// end of its swap, and the start takes the same lock (a flock on a real
// file of the data directory, from another open of it): here the start
// begins while the repair holds it, just after the repaired file is
// named, and must wait, do nothing, and leave the repair's result as the
// repair reports it.
func TestRepairSwapExcludesAStart(t *testing.T) {
	t.Parallel()
	h, path, recordsPage, _ := damagedSetup(t)
	garblePage(t, path, recordsPage)
	var other bytes.Buffer
	done := make(chan error, 1)
	var early string
	steps := 0
	h.hooks.cutRepair = func() bool {
		steps++
		if _, err := os.Stat(localdb.RepairedPath(path)); err != nil || steps > 1 && early != "" {
			return false // not yet complete (or the start is under way)
		}
		if early == "" {
			early = "-"
			go func() { done <- finishRepair(&Env{Stderr: &other}, h.data) }()
			select {
			case err := <-done:
				early = "the start finished the repair's swap while the repair was making it (" + strings.TrimSpace(other.String()) + ")"
				done <- err
			case <-time.After(300 * time.Millisecond):
			}
		}
		return false
	}
	r := h.run("doctor", "--repair")
	h.hooks.cutRepair = nil
	if early == "" {
		t.Fatal("the repair never named its new database complete: the test is blind")
	}
	if early != "-" {
		t.Fatal(early)
	}
	if err := <-done; err != nil {
		t.Fatalf("the start beside the repair: %v", err)
	}
	if other.Len() > 0 {
		t.Errorf("the start beside the repair said: %s", other.String())
	}
	if r.code != 0 || !strings.Contains(r.stdout, "the damaged file is kept as "+path+".damaged-") {
		t.Fatalf("doctor --repair: %+v", r)
	}
	if copies, _ := filepath.Glob(path + ".damaged-*[0-9]"); len(copies) != 1 {
		t.Errorf("damaged copies: %v, want the one the repair kept", copies)
	}
	checkQueuedAfterCut(t, h, "after the repair")
	if r := h.run("doctor"); r.code != 0 {
		t.Errorf("doctor after the repair: %+v", r)
	}
}
