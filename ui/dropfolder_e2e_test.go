package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/vault"
)

// A terminal UI running with a drop folder configured watches it: the
// matter's folder appears, and a file saved there becomes a document with
// the file attached while the UI is open, with no command run.
func TestEndToEndDropFolderWatchedByUI(t *testing.T) {
	bin := buildCasefile(t)
	dir := t.TempDir()
	data, cfg, inbox := filepath.Join(dir, "data"), filepath.Join(dir, "config.toml"), filepath.Join(dir, "Inbox")
	if err := os.WriteFile(cfg, []byte("drop_folder = \""+inbox+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pass = "drop test passphrase"
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
	cli("add", "matter", "title=Harbour Trust")
	s := &tmuxSession{t: t, socket: filepath.Join(dir, "tmux.sock"), name: "drop"}
	t.Cleanup(func() { s.tmux("kill-server") })
	cmd := fmt.Sprintf("env NO_COLOR= CASEFILE_PASSPHRASE='%s' %s --data %s --config %s", pass, bin, data, cfg)
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "100", "-y", "30", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.waitText("Harbour Trust")
	var folder string
	s.waitFor("the matter's drop folder", func(string) bool {
		ms, _ := filepath.Glob(filepath.Join(inbox, "Harbour Trust*"))
		if len(ms) == 1 {
			folder = ms[0]
		}
		return folder != ""
	})
	if err := os.WriteFile(filepath.Join(folder, "receipt.pdf"), []byte("%PDF-1.4 receipt"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(cli("files", "--json"), `"receipt.pdf"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the dropped file was not imported while the UI ran; files: %s", cli("files", "--json"))
		}
		time.Sleep(200 * time.Millisecond) // polling the CLI for the import, not timing it
	}
}
