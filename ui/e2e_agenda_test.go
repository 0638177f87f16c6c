package ui

import (
	"strings"
	"testing"
	"time"
)

// TestEndToEndAgendaAndHub: in the real binary at 80×24, the agenda shows
// an overdue task flagged in words and space marks it done (the CLI then
// sees it done); enter on the matter opens its hub with the time typed
// as "1h30" in the CLI.
func TestEndToEndAgendaAndHub(t *testing.T) {
	r := newSealedRig(t, "", "")
	r.width, r.height = 80, 24
	must := r.cli
	matter := must("add", "matter", "title=Lindqvist v. Northgate")
	task := must("add", "task", "matter_id="+matter, "title=Serve the notice", "due_on="+time.Now().AddDate(0, 0, -2).Format(time.DateOnly))
	must("add", "hearing", "matter_id="+matter, "title=Case management", "starts_at=tomorrow 9:30am", "court=County Court")
	must("add", "time", "matter_id="+matter, "description=Drafting", "minutes=1h30", "billable=yes")

	s := r.start("tui", "", "")
	s.waitText("◇ local only", "Lindqvist v. No")
	s.send(false, "5")
	s.waitText("Agenda · today and the next 7 days", "▸ ", "Serve the notice", "! overdue 2 days", "Case management")
	s.send(false, "Space")
	s.waitText("Marked “Serve the notice” done.")
	if out := must("show", task, "--json"); !strings.Contains(out, `"done": true`) {
		t.Fatalf("the task marked done in the UI is not done for the CLI:\n%s", out)
	}
	s.send(false, "1")
	s.waitText("Matters · ")
	s.send(false, "Enter")
	s.waitText("Matter · Lindqvist v. Northgate", "Time 1h30 · billable 1h30 · not billable 0m", "✓ done")
}
