package cli

import (
	"context"
	"strings"
	"testing"
)

// TestDamagedCursor: a sync cursor that is negative or not a number is
// damage in the local database, not a server out of reach: sync says so
// and names the fix instead of exiting 3 with "sync again later", status
// names it, doctor names it as a problem without asking the server with
// it, and doctor --repair prints the cursor it leaves, not the damaged one.
func TestDamagedCursor(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"-5", "twelve"} {
		t.Run(bad, func(t *testing.T) {
			_, _, h := aliceLoggedIn(t)
			h.seed()
			h.ok("sync")
			db := h.db()
			if err := db.SetMeta(context.Background(), "cursor", bad); err != nil {
				t.Fatal(err)
			}
			db.Close()

			r := h.run("sync")
			if r.code == exitUnreachable || r.code == 0 || !strings.Contains(r.stderr, "casefile doctor --repair") || strings.Contains(r.stderr, "later") {
				t.Errorf("sync with cursor %s: exit %d\n%s%s\nwant local damage named with its fix", bad, r.code, r.stdout, r.stderr)
			}
			if out := h.ok("status"); !strings.Contains(out, "casefile doctor --repair") {
				t.Errorf("status with cursor %s says nothing of it:\n%s", bad, out)
			}
			r = h.run("doctor")
			if r.code != 1 || !strings.Contains(r.stdout, "problem:  the sync cursor") || strings.Contains(r.stdout, "could not be asked") {
				t.Errorf("doctor with cursor %s: exit %d\n%s%s", bad, r.code, r.stdout, r.stderr)
			}
			var rep doctorReport
			h.okJSON(&rep, "doctor", "--repair", "--json")
			if !rep.OK || rep.Cursor < 0 || rep.Cursor != rep.ServerHead {
				t.Errorf("doctor --repair with cursor %s = %+v, want the repaired cursor at the server's head", bad, rep)
			}
			if out := h.ok("doctor", "--repair"); strings.Contains(out, "cursor:   "+bad) {
				t.Errorf("doctor --repair prints the damaged cursor:\n%s", out)
			}
			h.ok("sync")
		})
	}
}
