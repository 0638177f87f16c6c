package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/server"
	"casefile/server/servertest"
)

// A terminal UI open when an admin revokes its device: the next exchange
// meets the refusal, the screen hides every value and says what happened,
// the device's copy is deleted with the unsent change kept in a sealed
// export (the same wipe as casefile sync), and a key ends the program,
// which says it again on the terminal.
func TestEndToEndRevokedWhileOpen(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	const pass = "revoke test passphrase"
	r := newSealedRig(t, pass, "")
	dir, data, cli := r.dir, r.data, r.cli
	if err := config.SaveCredentials(data, config.Credentials{Server: srv.URL, User: "alice", Device: "test", Token: alice.Token}); err != nil {
		t.Fatal(err)
	}
	cli("add", "matter", "title="+lockCanary, "client=Ines Moreau")
	cli("sync")

	stderr := filepath.Join(dir, "stderr.txt")
	s := r.start("revoked", "", stderr)
	s.keepPane()
	s.waitText(lockCanary, "● online")

	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	// A note written now is refused by the server: the revocation.
	const unsent = "Quasarwick unsent"
	s.addNote("zephyr", lockCanary, unsent)
	screen := s.waitText("This device was revoked", "was deleted; 1 unsent", "are kept, encrypted", "Press any key to quit")
	for _, word := range []string{lockCanary, "Ines", "Quasarwick", "Notes"} {
		if strings.Contains(screen, word) {
			t.Fatalf("the revoked screen shows %q:\n%s", word, screen)
		}
	}
	for _, gone := range []string{config.DBPath(data), config.CredentialsPath(data)} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the wipe: %v", gone, err)
		}
	}
	exports, _ := filepath.Glob(filepath.Join(data, "unsent-*.sealed"))
	if len(exports) != 1 {
		t.Fatalf("exports: %v", exports)
	}
	checkNoPlaintext(t, data, unsent, lockCanary)
	s.send(false, "x")
	s.waitFor("the program to end", func(string) bool {
		out, _ := s.tmux("list-panes", "-t", s.name, "-F", "#{pane_dead}")
		return strings.TrimSpace(out) == "1"
	})
	if b, _ := os.ReadFile(stderr); !strings.Contains(string(b), "revoked by an administrator") || !strings.Contains(string(b), exports[0]) {
		t.Errorf("the terminal was told %q", b)
	}
	if out := cli("unsent", exports[0]); !strings.Contains(out, unsent) {
		t.Errorf("the export holds:\n%s", out)
	}
}
