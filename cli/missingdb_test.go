package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"casefile/config"
	"casefile/internal/wipe"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/vault"
)

// TestMissingDatabaseIsReported: on a device with changes queued, a
// database deleted or emptied behind casefile's back is reported by every
// command, doctor included, instead of a new empty one being made that
// says there is nothing; doctor --repair starts a new one and pulls the
// server's records into it.
func TestMissingDatabaseIsReported(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, says string
		lose       func(path string) error
	}{
		{"deleted", "casefile.db is missing", os.Remove},
		{"emptied", "casefile.db is empty (0 bytes)", func(path string) error { return os.Truncate(path, 0) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t)
			h := newHarness(t)
			h.login(srv.URL, srv.NewUser(t, "alice", server.RoleMember))
			matter := h.add("matter", "title=Synced")
			h.ok("sync")
			for _, title := range []string{"one", "two", "three"} {
				h.add("note", "matter_id="+matter, "title=Queued "+title)
			}
			path := config.DBPath(h.data)
			if err := c.lose(path); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"list", "note"}, {"queue"}, {"status"}, {"sync"}} {
				r := h.run(args...)
				if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, c.says) ||
					!strings.Contains(r.stderr, "is not here") || !strings.Contains(r.stderr, "'casefile doctor --repair' starts a new one") {
					t.Errorf("casefile %v: %+v", args, r)
				}
			}
			r := h.run("doctor")
			if r.code != 1 || strings.Contains(r.stdout, "No problems found") || !strings.Contains(r.stdout, "problem:  the local database "+c.says) ||
				!strings.Contains(r.stdout, "doctor --repair' starts a new one") {
				t.Errorf("doctor: %+v", r)
			}
			if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
				t.Fatal("a command made a new database in the lost one's place")
			}
			r = h.run("doctor", "--repair")
			if r.code != 0 || !strings.Contains(r.stdout, "a new local database was started") || !strings.Contains(r.stdout, "pulled 1 record(s) again from the server") {
				t.Fatalf("doctor --repair: %+v", r)
			}
			if out := h.ok("list", "matter"); !strings.Contains(out, "Synced") {
				t.Errorf("after the repair, list matter:\n%s", out)
			}
			if r := h.run("doctor"); r.code != 0 {
				t.Errorf("doctor after the repair: %+v", r)
			}
		})
	}
}

// TestNewDirectoryStillStarts: a directory with no key yet (a first
// start), and casefile init, make the database; a login alone (how a
// device joins) does not count as a directory in use.
func TestNewDirectoryStillStarts(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	h := newHarness(t)
	h.add("matter", "title=Shared")
	h.login(srv.URL, alice)
	h.ok("sync")

	for _, first := range [][]string{{"list", "matter"}, {"init"}} {
		h.data = t.TempDir()
		h.ok(first...)
		if fi, err := os.Stat(config.DBPath(h.data)); err != nil || fi.Size() == 0 {
			t.Errorf("casefile %v in a new directory made no database: %v", first, err)
		}
		if _, err := os.Stat(startingNote(h.data)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("casefile %v left its note of an unfinished start: %v", first, err)
		}
	}
	h.data = t.TempDir()
	h.login(srv.URL, alice)
	if out := h.ok("sync"); !strings.Contains(out, "pulled 1") {
		t.Errorf("the first sync after a login in a new directory: %q", out)
	}
}

// TestCutFirstStartStartsAgain: a first start killed after it made the
// key and before the database had its first page (what TestCrash's start
// phase draws at random) is not taken for a lost database: the next
// command makes it, and a database lost after that is reported as usual.
func TestCutFirstStartStartsAgain(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cut  func(path string) error
	}{
		{"before the database", func(string) error { return nil }},
		{"with an empty database", func(path string) error { return os.WriteFile(path, nil, 0o600) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.data = t.TempDir()
			// What a first start has done when the kill lands.
			if err := beginFirstStart(h.data); err != nil {
				t.Fatal(err)
			}
			if _, err := vault.CreateGenerated(h.data); err != nil {
				t.Fatal(err)
			}
			path := config.DBPath(h.data)
			if err := c.cut(path); err != nil {
				t.Fatal(err)
			}
			if r := h.run("doctor"); r.code != 0 || !strings.Contains(r.stdout, "No problems found") {
				t.Errorf("doctor after the cut start: %+v", r)
			}
			if r := h.run("list", "matter"); r.code != 0 || !strings.Contains(r.stdout, "No matters") {
				t.Fatalf("the start after the cut one: %+v", r)
			}
			if _, err := os.Stat(startingNote(h.data)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the note of the unfinished start outlived the database: %v", err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if r := h.run("list", "matter"); r.code != 1 || !strings.Contains(r.stderr, "casefile.db is missing") {
				t.Errorf("a database lost after the start: %+v", r)
			}
		})
	}
}

// TestRevokedDeviceStartsAgain: the database a revocation's wipe deleted
// is not reported lost: the next start begins a new, empty one (the wipe
// said what it did), a login again brings the server's records back, and
// from then on a database that goes missing is reported as usual.
func TestRevokedDeviceStartsAgain(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	h := newHarness(t)
	h.login(srv.URL, srv.NewUser(t, "alice", server.RoleMember))
	h.add("matter", "title=Synced")
	h.ok("sync")
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	if r := h.run("sync"); r.code != exitLoggedOut || !strings.Contains(r.stderr, "revoked by an administrator") {
		t.Fatalf("sync of a revoked device: %+v", r)
	}
	path := config.DBPath(h.data)
	if _, err := os.Stat(wipe.WipedNote(path)); err != nil {
		t.Fatalf("the wipe left no note: %v", err)
	}
	if r := h.run("list", "matter"); r.code != 0 || !strings.Contains(r.stdout, "No matters") {
		t.Fatalf("the first start after the wipe: %+v", r)
	}
	if _, err := os.Stat(wipe.WipedNote(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the wipe's note outlived the new database: %v", err)
	}
	if r := h.run("sync"); r.code != exitLoggedOut {
		t.Errorf("sync after the wipe, logged out: %+v", r)
	}
	again, err := servertest.Login(context.Background(), srv.URL, "alice", servertest.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.login(srv.URL, again)
	h.ok("sync")
	if out := h.ok("list", "matter"); !strings.Contains(out, "Synced") {
		t.Errorf("after signing in again, list matter:\n%s", out)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if r := h.run("list", "matter"); r.code != 1 || !strings.Contains(r.stderr, "casefile.db is missing") {
		t.Errorf("a database lost after the new start: %+v", r)
	}
}
