package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEndToEndDeleteMatter: the CLI refuses to delete a matter that holds
// records and says how many; the UI asks twice and deletes them with it.
func TestEndToEndDeleteMatter(t *testing.T) {
	bin := buildCasefile(t)
	dir := t.TempDir()
	data, cfg := filepath.Join(dir, "data"), filepath.Join(dir, "config.toml")
	// A config named explicitly must exist: an empty one.
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--data", data, "--config", cfg}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("casefile %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	matter := must("add", "matter", "title=Lindqvist v. Northgate Homes")
	must("add", "note", "matter_id="+matter, "title=Mould in the bedroom")
	must("add", "task", "matter_id="+matter, "title=Call the surveyor")
	out, err := cli("rm", matter)
	if err == nil || !strings.Contains(out, "still holds records (note: 1, task: 1); nothing was deleted") {
		t.Fatalf("rm of a matter holding records: %v\n%s", err, out)
	}

	s := &tmuxSession{t: t, socket: filepath.Join(dir, "tmux.sock"), name: "tui"}
	t.Cleanup(func() { s.tmux("kill-server") })
	cmd := fmt.Sprintf("env NO_COLOR= %s --data %s --config %s", bin, data, cfg)
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "100", "-y", "30", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
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
