package cli

import (
	"context"
	"strings"
	"testing"

	"casefile/config"
	"casefile/localdb"
	"casefile/server"
)

// TestCopiedTokenDoesNotActAsItsOwner copies bob's token into alice's
// data directory: sync must not push alice's work as bob, and status must
// not show alice online.
func TestCopiedTokenDoesNotActAsItsOwner(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	h := newHarness(t)
	h.login(srv.URL, alice)
	h.seed()
	if err := config.SaveCredentials(h.data, config.Credentials{Server: srv.URL, User: "alice", Device: "test", Token: bob.Token}); err != nil {
		t.Fatal(err)
	}
	r := h.run("sync")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, "another user") {
		t.Errorf("sync with bob's token as alice: exit %d, stderr %q", r.code, r.stderr)
	}
	var st statusReport
	h.okJSON(&st, "status", "--json")
	if st.Online || st.Connectivity != "logged-out" || st.Outbox != 2 || !strings.Contains(st.Problem, "another user") {
		t.Errorf("status with bob's token as alice = %+v", st)
	}
	if out := h.ok("status"); !strings.Contains(out, "casefile login") {
		t.Errorf("status does not say to log in again:\n%s", out)
	}
	// Nothing reached the server as bob.
	pages, err := bob.PullAll(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if len(p.Records) > 0 {
			t.Fatalf("bob's pull shows %d record(s) pushed with his copied token", len(p.Records))
		}
	}
	db := h.db()
	ops, err := db.Outbox(context.Background())
	if err != nil || len(ops) != 2 || ops[0].State == localdb.OpFailed {
		t.Errorf("alice's queued work after the refused sync: %+v, %v", ops, err)
	}
	db.Close()

	// Her own token again: everything goes, as alice.
	h.login(srv.URL, alice)
	if out := h.ok("sync"); !strings.HasPrefix(out, "pushed 2,") {
		t.Errorf("sync with alice's own token printed %q", out)
	}
}
