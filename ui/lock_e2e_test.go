package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefile/vault"
)

// lockCanary is a title that must vanish from the screen when locked.
const lockCanary = "Zephyrine Holdings"

// The idle lock and `casefile lock` hide every value on screen behind the
// lock screen; a wrong passphrase keeps it locked; the right one brings the
// records back.
func TestEndToEndLock(t *testing.T) {
	bin := buildCasefile(t)
	dir := t.TempDir()
	data, cfg := filepath.Join(dir, "data"), filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const pass = "lock test passphrase"
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.CreateWithCost(data, []byte(pass), vault.TestCost); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data", data, "--config", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "CASEFILE_PASSPHRASE="+pass)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("casefile %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	cli("add", "matter", "title="+lockCanary, "client=Ines Moreau")
	hidden := func(screen string) bool {
		return strings.Contains(screen, "Casefile is locked") && !strings.Contains(screen, lockCanary) &&
			!strings.Contains(screen, "Ines") && !strings.Contains(screen, "saved offline")
	}
	start := func(name, idle string) *tmuxSession {
		s := &tmuxSession{t: t, socket: filepath.Join(dir, name+".sock"), name: name}
		t.Cleanup(func() { s.tmux("kill-server") })
		cmd := fmt.Sprintf("env NO_COLOR= CASEFILE_PASSPHRASE='%s' CASEFILE_IDLE_LOCK=%s %s --data %s --config %s", pass, idle, bin, data, cfg)
		if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "100", "-y", "30", cmd); err != nil {
			t.Fatalf("tmux new-session: %v: %s", err, out)
		}
		return s
	}

	// casefile lock, from another shell.
	s := start("locknow", "0")
	s.waitText(lockCanary)
	if out := cli("lock"); !strings.Contains(out, "locked") {
		t.Fatalf("casefile lock said %q", out)
	}
	s.waitFor("the lock screen, with no value on it", hidden)
	s.send(true, "not it")
	s.send(false, "Enter")
	screen := s.waitText("That is not the passphrase.")
	if !hidden(screen) {
		t.Fatalf("a wrong passphrase showed something:\n%s", screen)
	}
	s.send(true, pass)
	s.send(false, "Enter")
	s.waitText(lockCanary, "saved offline")
	s.tmux("kill-server") // done with this one; the UI's socket goes with it

	// The idle lock: a UI left alone locks itself.
	idle := start("idle", "1s")
	idle.waitFor("the idle lock, with no value on it", hidden)
}
