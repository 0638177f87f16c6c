package cli

import (
	"os"
	"strings"
	"testing"

	"casefile/model"
)

// TestAddAndEditReadTimesInTheUsersZone: `add` and `edit` read a typed
// date and time in the zone and date order of the config file, store the
// instant in UTC, and refuse a typo with an example and nothing written.
func TestAddAndEditReadTimesInTheUsersZone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := os.WriteFile(h.config, []byte("time_zone = \"America/New_York\"\ndate_order = \"MDY\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := h.add("matter", "title=Smith v. Jones")
	id := h.add("hearing", "matter_id="+m, "title=Motion", "starts_at=12/15/2026 9:30am")
	var rec model.Record
	h.okJSON(&rec, "show", id, "--json")
	if rec.Fields["starts_at"] != "2026-12-15T14:30:00Z" {
		t.Errorf("9:30am on 12/15 in New York stored as %v, want 2026-12-15T14:30:00Z", rec.Fields["starts_at"])
	}
	h.ok("edit", id, "starts_at=2026-12-16 08:00")
	h.okJSON(&rec, "show", id, "--json")
	if rec.Fields["starts_at"] != "2026-12-16T13:00:00Z" {
		t.Errorf("8:00 on 2026-12-16 in New York stored as %v, want 2026-12-16T13:00:00Z", rec.Fields["starts_at"])
	}
	before := h.snapshot()
	r := h.run("edit", id, "starts_at=half past nine")
	if r.code == 0 || !strings.Contains(r.stderr, `"12/15 9:30"`) {
		t.Errorf("a bad time: exit %d, stderr %q; want a refusal with an MDY example", r.code, r.stderr)
	}
	if h.snapshot() != before {
		t.Error("a refused edit changed the database")
	}
}
