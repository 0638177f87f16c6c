package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndAgendaAndHub: in the real binary at 80×24, the agenda shows
// an overdue task flagged in words and space marks it done (the CLI then
// sees it done); enter on the matter opens its hub with the time typed
// as "1h30" in the CLI.
func TestEndToEndAgendaAndHub(t *testing.T) {
	bin := buildCasefile(t)
	dir := t.TempDir()
	data, cfg := filepath.Join(dir, "data"), filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--data", data, "--config", cfg}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("casefile %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	matter := must("add", "matter", "title=Lindqvist v. Northgate")
	task := must("add", "task", "matter_id="+matter, "title=Serve the notice", "due_on="+time.Now().AddDate(0, 0, -2).Format(time.DateOnly))
	must("add", "hearing", "matter_id="+matter, "title=Case management", "starts_at=tomorrow 9:30am", "court=County Court")
	must("add", "time", "matter_id="+matter, "description=Drafting", "minutes=1h30", "billable=yes")

	s := &tmuxSession{t: t, socket: filepath.Join(dir, "tmux.sock"), name: "tui"}
	t.Cleanup(func() { s.tmux("kill-server") })
	cmd := fmt.Sprintf("env NO_COLOR= %s --data %s --config %s", bin, data, cfg)
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "80", "-y", "24", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
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
