package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/internal/wipe"
	"casefile/localfiles"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// A device an admin revoked learns it at its next sync: it keeps its
// unsent changes in an encrypted export it names, deletes its copy of the
// server's data and its login, and says so. Its token never works again;
// the owner can sign in afresh.
func TestRevokedDeviceWipesAndExports(t *testing.T) {
	srv, alice, h := aliceLoggedIn(t)
	matter, note := h.seed()
	sent, _ := canaryFile(t, "sent.txt")
	h.ok("attach", note, sent)
	h.ok("sync")
	h.add("note", "matter_id="+matter, "title=unsent "+cliCanary)
	unsent := filepath.Join(t.TempDir(), "unsent.txt")
	if err := os.WriteFile(unsent, []byte("never uploaded"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("attach", note, unsent)
	if n := len(storedFiles(t, h.data)); n != 2 {
		t.Fatalf("%d files stored before the revocation, want 2", n)
	}

	// The admin sees the device, with when it was last seen, and revokes it.
	out := h.ok("admin", "--data", srv.Dir, "devices", "alice")
	if !strings.Contains(out, "test") || !strings.Contains(out, "LAST SEEN") {
		t.Fatalf("admin devices:\n%s", out)
	}
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	if err := srv.RevokeDevice(context.Background(), "alice", "no such laptop"); !errors.Is(err, server.ErrNoDevice) {
		t.Fatalf("revoking an unknown device: %v", err)
	}

	r := h.run("sync")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, "revoked by an administrator") || !strings.Contains(r.stderr, "2 unsent change(s)") ||
		!strings.Contains(r.stderr, "the bytes of 1 file(s) attached here and never uploaded stay") {
		t.Fatalf("sync of a revoked device: %+v", r)
	}
	// The uploaded file (the server's now) is deleted; the one never
	// uploaded stays, sealed.
	if kept := storedFiles(t, h.data); len(kept) != 1 || kept[0] != sha256Hex([]byte("never uploaded")) {
		t.Fatalf("files left after the wipe: %v", kept)
	}
	matches, _ := filepath.Glob(filepath.Join(h.data, unsentPrefix+"*.sealed"))
	if len(matches) != 1 || !strings.Contains(r.stderr, matches[0]) {
		t.Fatalf("the export %v is not the one named in %q", matches, r.stderr)
	}
	for _, gone := range []string{config.DBPath(h.data), config.CredentialsPath(h.data)} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the wipe: %v", gone, err)
		}
	}
	if hits := plaintextIn(t, h.data, cliCanary); len(hits) > 0 {
		t.Fatalf("the unsent change is in plaintext in %v", hits)
	}
	if out := h.ok("unsent", matches[0]); !strings.Contains(out, cliCanary) || strings.Count(out, "\n") != 2 {
		t.Fatalf("casefile unsent printed:\n%s", out)
	}
	// Copied out under another name (mailed, saved by a browser), the
	// export still opens; with another data directory's key it does not,
	// and a data directory that is not there is not made.
	renamed := filepath.Join(t.TempDir(), "my unsent work.sealed")
	if b, err := os.ReadFile(matches[0]); err != nil || os.WriteFile(renamed, b, 0o600) != nil {
		t.Fatal(err)
	}
	if out := h.ok("unsent", renamed); !strings.Contains(out, cliCanary) {
		t.Fatalf("casefile unsent of the renamed export printed:\n%s", out)
	}
	other := newHarness(t)
	other.add("matter", "title=Elsewhere")
	if r := other.run("unsent", renamed); r.code != 1 || !strings.Contains(r.stderr, "does not open with the key of") {
		t.Errorf("unsent with another data directory's key: %+v", r)
	}
	missing := filepath.Join(t.TempDir(), "nothing here")
	if r := h.run("--data", missing, "unsent", renamed); r.code != 1 || !strings.Contains(r.stderr, "no data directory with a key") {
		t.Errorf("unsent with no data directory: %+v", r)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unsent made a data directory: %v", err)
	}

	// The old token is refused for good, with the reason; a new login works.
	var se *servertest.StatusError
	err := alice.Call(context.Background(), http.MethodGet, protocol.PathPull+"?cursor=0", nil, &protocol.PullResponse{})
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Code != protocol.CodeDeviceRevoked {
		t.Fatalf("the revoked token: %v", err)
	}
	again, err := servertest.Login(context.Background(), srv.URL, "alice", servertest.Password, "new laptop")
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Call(context.Background(), http.MethodGet, protocol.PathPull+"?cursor=0", nil, &protocol.PullResponse{}); err != nil {
		t.Fatalf("a fresh login after the revocation: %v", err)
	}
	if err := alice.Call(context.Background(), http.MethodGet, protocol.PathPull+"?cursor=0", nil, &protocol.PullResponse{}); !errors.As(err, &se) || se.Code != protocol.CodeDeviceRevoked {
		t.Fatalf("the revoked token after a new login: %v", err)
	}
	out = h.ok("admin", "--data", srv.Dir, "devices", "alice")
	if !strings.Contains(out, "new laptop") {
		t.Fatalf("admin devices after a new login:\n%s", out)
	}
}

// storedFiles lists the hashes of the complete files in a data
// directory's file store.
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ms, err := filepath.Glob(filepath.Join(dir, localfiles.DirName, "sha256", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		out = append(out, filepath.Base(m))
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sync --watch obeys a revocation as sync does: the export, the wipe, the
// sentence, exit 3 — not only "session expired".
func TestRevokedDeviceWipesOnSyncWatch(t *testing.T) {
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	h := newHarness(t)
	h.login(srv.URL, alice)
	matter, _ := h.seed()
	h.ok("sync")
	h.add("note", "matter_id="+matter, "title=unsent "+cliCanary)
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	r := h.run("sync", "--watch")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, "revoked by an administrator") || !strings.Contains(r.stderr, "1 unsent change(s)") {
		t.Fatalf("sync --watch of a revoked device: %+v", r)
	}
	if _, err := os.Stat(config.DBPath(h.data)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the database is still there: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(h.data, unsentPrefix+"*.sealed")); len(matches) != 1 {
		t.Fatalf("exports: %v", matches)
	}
}

// TestRevokedDeviceWipesKeptCopies: a damaged database doctor --repair
// kept aside, and the conversion copy an interrupted encryption left, are
// the former database sealed with the same key: the wipe of a revoked
// device deletes them with the database.
func TestRevokedDeviceWipesKeptCopies(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	h, path, recordsPage, _ := damagedSetupOn(t, srv)
	garblePage(t, path, recordsPage)
	h.ok("doctor", "--repair")
	if kept, _ := filepath.Glob(path + ".damaged-*"); len(kept) == 0 {
		t.Fatal("doctor --repair kept no damaged file: the check is blind")
	}
	if err := os.WriteFile(path+".sealing", []byte("SQLite format 3\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	r := h.run("sync")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, "revoked by an administrator") {
		t.Fatalf("sync of a revoked device: %+v", r)
	}
	left, _ := filepath.Glob(path + "*")
	for _, p := range left {
		if p != wipe.WipedNote(path) {
			t.Errorf("%s is still there after the wipe", filepath.Base(p))
		}
	}
}

// TestStartFinishesACutOffWipe: a revocation's wipe cut off after it
// deleted the database but before the login (its plan and note written)
// is finished by the next command, from its plan: the login goes, the
// file never uploaded stays, the note names the first export. The next
// sync used to start a new empty database, be refused as revoked with the
// login left, and wipe again: the kept file was deleted, and a second,
// empty export written.
func TestStartFinishesACutOffWipe(t *testing.T) {
	srv, _, h := aliceLoggedIn(t)
	_, note := h.seed()
	h.ok("sync")
	unsent := filepath.Join(t.TempDir(), "unsent.txt")
	if err := os.WriteFile(unsent, []byte("never uploaded"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("attach", note, unsent)
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	// Where the kill left the wipe: the export and the plan written, the
	// database deleted, the login not yet.
	path := config.DBPath(h.data)
	export := filepath.Join(h.data, unsentPrefix+"20261205T090000.000000000Z.sealed")
	creds, err := os.ReadFile(config.CredentialsPath(h.data))
	if err != nil {
		t.Fatal(err)
	}
	plan := `{"export":"` + filepath.Base(export) + `","keep":["` + sha256Hex([]byte("never uploaded")) + `"],"login":"` +
		sha256Hex(creds) + `","at":"2026-12-05T09:00:00Z"}`
	for name, body := range map[string]string{export: "sealed changes", path + ".wiping": plan, wipe.WipedNote(path): "revoked"} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}

	r := h.run("sync")
	if r.code != exitLoggedOut || strings.Contains(r.stderr, "revoked") {
		t.Errorf("sync after the cut-off wipe: %+v, want logged out", r)
	}
	if kept := storedFiles(t, h.data); len(kept) != 1 || kept[0] != sha256Hex([]byte("never uploaded")) {
		t.Errorf("files left: %v", kept)
	}
	if matches, _ := filepath.Glob(filepath.Join(h.data, unsentPrefix+"*.sealed")); len(matches) != 1 {
		t.Errorf("exports: %v", matches)
	}
	if b, err := os.ReadFile(wipe.WipedNote(path)); err == nil && !strings.Contains(string(b), filepath.Base(export)) {
		t.Errorf("the note names another export: %s", b)
	}
	for _, gone := range []string{config.CredentialsPath(h.data), path + ".wiping"} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there: %v", filepath.Base(gone), err)
		}
	}
}
