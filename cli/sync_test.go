package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// login writes the credentials a `casefile login` would, for user on srv.
func (h *harness) login(serverURL string, user *servertest.Client) {
	h.t.Helper()
	if err := config.SaveCredentials(h.data, config.Credentials{Server: serverURL, User: user.User, Device: "test", Token: user.Token}); err != nil {
		h.t.Fatal(err)
	}
}

func startServer(t *testing.T) *servertest.Server {
	return servertest.Start(t, func(o *server.Options) { o.RateLimit = -1 })
}

// aliceLoggedIn starts a server with the member alice and logs her in
// on a fresh data directory.
func aliceLoggedIn(t *testing.T) (*servertest.Server, *servertest.Client, *harness) {
	t.Helper()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	h := newHarness(t)
	h.login(srv.URL, alice)
	return srv, alice, h
}

// aliceOnTwoDevices logs alice in on two fresh data directories of one
// server; the first seeds a matter and a note, and both sync.
func aliceOnTwoDevices(t *testing.T) (a, b *harness, matter, note string) {
	t.Helper()
	srv, alice, a := aliceLoggedIn(t)
	b = newHarness(t)
	b.login(srv.URL, alice)
	matter, note = a.seed()
	a.ok("sync")
	b.ok("sync")
	return a, b, matter, note
}

func TestSyncAndStatus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	h := newHarness(t)

	r := h.run("sync")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, "not logged in") {
		t.Errorf("sync before login: exit %d, stderr %q", r.code, r.stderr)
	}
	var st statusReport
	h.okJSON(&st, "status", "--json")
	if st.Online || st.Connectivity != "logged-out" {
		t.Errorf("status before login = %+v", st)
	}

	h.login(srv.URL, alice)
	h.seed()
	h.okJSON(&st, "status", "--json")
	if !st.Online || st.Pending != 2 || st.Outbox != 2 || st.OldestPendingAgeSeconds == nil || st.LastSync != nil || st.User != "alice" {
		t.Errorf("status before the first sync = %+v", st)
	}
	// Nothing else changed on the server: the push answers stand for the
	// pull, so the device does not download its own two records back.
	if out := h.ok("sync"); out != "pushed 2, pulled 0, conflicts 0, failed 0\n" {
		t.Errorf("sync printed %q", out)
	}
	h.okJSON(&st, "status", "--json")
	if st.Synced != 2 || st.Pending != 0 || st.Outbox != 0 || st.LastSync == nil || st.OldestPendingAgeSeconds != nil || st.ServerHead < st.Cursor {
		t.Errorf("status after sync = %+v", st)
	}
	if out := h.ok("status"); !strings.Contains(out, "— online") || !strings.Contains(out, "2 synced") || !strings.Contains(out, "0 saved offline") {
		t.Errorf("status:\n%s", out)
	}

	// A server that cannot be reached: a sentence, exit 3, nothing lost.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h.login(dead, alice)
	h.add("note", "matter_id="+h.firstMatter(), "title=Written in the field")
	r = h.run("sync")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "cannot be reached") || !strings.Contains(r.stderr, "kept") {
		t.Errorf("sync to a dead server: exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "pushed 0, pulled 0, conflicts 0, failed 0, retrying 1\n" {
		t.Errorf("sync to a dead server printed %q", r.stdout)
	}
	h.okJSON(&st, "status", "--json")
	if st.Online || st.Connectivity != "offline" || st.Outbox != 1 {
		t.Errorf("status with a dead server = %+v", st)
	}

	// A revoked token: the sentence says to log in again; nothing is dropped.
	h.login(srv.URL, alice)
	if _, err := srv.RevokeTokens(context.Background(), "alice", ""); err != nil {
		t.Fatal(err)
	}
	r = h.run("sync")
	if r.code != exitLoggedOut || !strings.Contains(r.stderr, apiclient.SessionExpired) {
		t.Errorf("sync with a revoked token: exit %d, stderr %q", r.code, r.stderr)
	}
	h.okJSON(&st, "status", "--json")
	if st.Outbox != 1 {
		t.Errorf("the unsent note was dropped: %+v", st)
	}

	// A server that accepts connections and never answers: --timeout ends it.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h.login("http://"+hang.Addr().String(), alice)
	r = h.run("sync", "--timeout", "300ms")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "did not finish within 300ms") {
		t.Errorf("sync --timeout against a silent server: exit %d, stderr %q", r.code, r.stderr)
	}
	h.okJSON(&st, "status", "--json")
	if st.Outbox != 1 || st.Syncing != 0 {
		t.Errorf("after the timeout: %+v, want the note kept and not stuck sending", st)
	}

	for _, bad := range [][]string{{"sync", "extra"}, {"sync", "--timeout", "-1s"}, {"status", "x"}} {
		if r := h.run(bad...); r.code != 2 {
			t.Errorf("casefile %v: exit %d, want 2", bad, r.code)
		}
	}
}

// firstMatter returns the id of some matter of the harness's database.
func (h *harness) firstMatter() string {
	h.t.Helper()
	db := h.db()
	defer db.Close()
	ms, err := db.List(context.Background(), localdb.ListQuery{Collection: "matter", Limit: 1})
	if err != nil || len(ms) == 0 {
		h.t.Fatalf("no matter: %v", err)
	}
	return ms[0].ID
}

func TestConflictsAndResolve(t *testing.T) {
	t.Parallel()
	a, b, _, note := aliceOnTwoDevices(t)
	a.ok("edit", note, "title=From A")
	b.ok("edit", note, "title=From B", "status=open")
	a.ok("sync")
	// A sync that meets a conflict exits 7, after its summary, and so
	// does the next one while the conflict waits for review.
	if r := b.run("sync"); r.code != exitConflicts || r.stdout != "pushed 0, pulled 1, conflicts 1, failed 0\n" ||
		!strings.Contains(r.stderr, "1 change(s) conflict") || !strings.Contains(r.stderr, "casefile conflicts") {
		t.Errorf("conflicting sync: exit %d, printed %q, %q", r.code, r.stdout, r.stderr)
	}
	if r := b.run("sync"); r.code != exitConflicts || r.stdout != "pushed 0, pulled 0, conflicts 0, failed 0\n" {
		t.Errorf("sync with a conflict waiting: exit %d, printed %q, %q", r.code, r.stdout, r.stderr)
	}
	if out := a.ok("conflicts"); out != "No conflicts to review.\n" {
		t.Errorf("a's conflicts: %q", out)
	}
	var cs []conflictOut
	b.okJSON(&cs, "conflicts", "--json")
	if len(cs) != 1 || cs[0].Record != note || cs[0].Kind != model.ConflictEdit || len(cs[0].Fields) != 1 {
		t.Fatalf("conflicts = %+v", cs)
	}
	if f := cs[0].Fields[0]; f.Field != "title" || f.Base != "First meeting" || f.Mine != "From B" || f.Theirs != "From A" {
		t.Errorf("conflict field = %+v", f)
	}
	if out := b.ok("conflicts"); !strings.Contains(out, "From A") || !strings.Contains(out, "casefile resolve "+note) {
		t.Errorf("conflicts:\n%s", out)
	}

	before := b.snapshot()
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"resolve", note}, 2, "choose --mine, --theirs or --field"},
		{[]string{"resolve", note, "--mine", "--theirs"}, 2, "not both"},
		{[]string{"resolve", "not-an-id", "--mine"}, 2, "not a record id"},
		{[]string{"resolve", unknownID, "--mine"}, 1, "has no conflict"},
		{[]string{"resolve", note, "--field", "status=mine"}, 1, "not a conflicting field"},
		{[]string{"resolve", note, "--field", "title="}, 1, "required"},
		{[]string{"resolve", note, "--field", "title"}, 2, "NAME=mine"},
		{[]string{"resolve", note, "--field", "title=mine", "--field", "title=theirs"}, 1, "more than once"},
	} {
		r := b.run(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("casefile %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.says)
		}
	}
	if b.snapshot() != before {
		t.Errorf("a refused resolve changed the database")
	}

	if out := b.ok("resolve", note, "--field", "title=value:mine"); !strings.Contains(out, "next sync") {
		t.Errorf("resolve printed %q", out)
	}
	b.ok("sync")
	a.ok("sync")
	var rec model.Record
	a.okJSON(&rec, "show", note, "--json")
	if rec.Fields["title"] != "mine" || rec.Fields["status"] != "open" {
		t.Errorf("after the resolution a sees %v", rec.Fields)
	}
}

func TestRetryAndDiscard(t *testing.T) {
	t.Parallel()
	srv, _, h := aliceLoggedIn(t)
	matter, _ := h.seed()
	h.ok("sync")
	// The server already has this id, for a record alice may not see (bob's
	// matter): the import's create is refused for good.
	bob := srv.NewUser(t, "bob", server.RoleMember)
	taken := bob.CreateMatter(t, "Bob's own")
	file := filepath.Join(t.TempDir(), "late.jsonl")
	line, _ := json.Marshal(map[string]any{"id": taken.ID, "matter_id": matter, "title": "late", "body": "keep me"})
	if err := os.WriteFile(file, append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("import", "note", "--file", file)
	// A refused change makes the sync exit 6, after its summary; so does
	// every sync after it while the change waits in the outbox.
	if r := h.run("sync"); r.code != exitFailed || !strings.HasPrefix(r.stdout, "pushed 0, pulled 0, conflicts 0, failed 1") {
		t.Errorf("sync: exit %d, printed %q", r.code, r.stdout)
	}
	if r := h.run("sync"); r.code != exitFailed || !strings.HasPrefix(r.stdout, "pushed 0, pulled 0, conflicts 0, failed 0") ||
		!strings.Contains(r.stderr, "the server refused 1 change(s)") {
		t.Errorf("sync with a refused change waiting: exit %d, printed %q, %q", r.code, r.stdout, r.stderr)
	}
	var ops []localdb.OutboxOp
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 1 || ops[0].State != localdb.OpFailed || ops[0].LastError == "" {
		t.Fatalf("queue = %+v", ops)
	}
	op := ops[0].OpID

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"retry"}, 2, "--all"},
		{[]string{"retry", op, "--all"}, 2, "not both"},
		{[]string{"retry", "nope"}, 2, "not an op id"},
		{[]string{"retry", unknownID}, 1, "no queued change"},
		{[]string{"discard", op}, 2, "--yes"},
		{[]string{"discard", unknownID, "--yes"}, 1, "no queued change"},
	} {
		r := h.run(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("casefile %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.says)
		}
	}

	if out := h.ok("retry", "--all"); out != "1 change will be sent at the next sync.\n" {
		t.Errorf("retry --all printed %q", out)
	}
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 1 || ops[0].State != localdb.OpPending {
		t.Fatalf("after retry the queue = %+v", ops)
	}
	if r := h.run("sync"); r.code != exitFailed { // refused again
		t.Errorf("sync refused again: exit %d", r.code)
	}
	h.okJSON(&ops, "queue", "--json")
	op = ops[0].OpID
	if out := h.ok("retry", op); !strings.Contains(out, "next sync") {
		t.Errorf("retry printed %q", out)
	}
	if r := h.run("sync"); r.code != exitFailed {
		t.Errorf("sync refused a third time: exit %d", r.code)
	}
	h.okJSON(&ops, "queue", "--json")
	op = ops[0].OpID
	if out := h.ok("discard", op, "--yes"); !strings.Contains(out, "Discarded") {
		t.Errorf("discard printed %q", out)
	}
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 0 {
		t.Errorf("queue after discard = %+v", ops)
	}
	if out := h.ok("journal", "--record", taken.ID); !strings.Contains(out, "discard") {
		t.Errorf("the journal lost the discarded change:\n%s", out)
	}
	if out := h.ok("retry", "--all"); !strings.HasPrefix(out, "Nothing to retry") {
		t.Errorf("retry --all with nothing printed %q", out)
	}
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	_, _, h := aliceLoggedIn(t)
	h.seed()
	h.ok("sync")
	if out := h.ok("doctor"); !strings.Contains(out, "No problems found.") {
		t.Errorf("doctor:\n%s", out)
	}
	var rep doctorReport
	h.okJSON(&rep, "doctor", "--json")
	if !rep.OK || rep.ServerHead < rep.Cursor || rep.ServerHead <= 0 {
		t.Errorf("doctor --json = %+v", rep)
	}

	// A cursor past the server's head (a server restored from a backup).
	db := h.db()
	if err := db.SetMeta(context.Background(), "cursor", "999999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := h.run("doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "ahead of the server") {
		t.Errorf("doctor with a cursor ahead: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	h.add("note", "matter_id="+h.firstMatter(), "title=unsent")
	h.okJSON(&rep, "doctor", "--repair", "--json")
	if !rep.OK || rep.Cursor != rep.ServerHead || !strings.Contains(strings.Join(rep.Repaired, "\n"), "pulled 2 record(s)") {
		t.Errorf("doctor --repair = %+v", rep)
	}
	var st statusReport
	h.okJSON(&st, "status", "--json")
	if st.Pending != 1 || st.Synced != 2 {
		t.Errorf("after the repair: %+v, want the unsent note kept", st)
	}
}

// lockedBuffer is a buffer safe to read while a command writes.
type lockedBuffer = servertest.SyncBuffer

func TestSyncWatch(t *testing.T) {
	_, _, h := aliceLoggedIn(t)
	h.seed()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int)
	go func() {
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: h.getenv}
		done <- run(ctx, env, []string{"--data", h.data, "--config", h.config, "sync", "--watch"})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "pushed 2") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no cycle line; stdout %q stderr %q", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("sync --watch ended with %d: %s", code, errb.String())
	}
}

// TestSyncOptionsFollowSettings: the sync command and the terminal UI run
// their syncers with the settings' poll interval, batch size and request
// timeout.
func TestSyncOptionsFollowSettings(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SyncInterval, cfg.BatchSize, cfg.RequestTimeout = 2*time.Minute, 40, 5*time.Minute
	creds := config.Credentials{Server: "http://127.0.0.1:1", Token: "t", Device: "d"}
	o := syncOptions(&Env{Getenv: func(string) string { return "" }}, cfg, creds)
	if o.PollInterval != 2*time.Minute || o.BatchSize != 40 || o.RequestTimeout != 5*time.Minute {
		t.Errorf("sync options = %+v", o)
	}
	db := localdbtest.Open(t)
	u, err := uiSyncOptions(context.Background(), &Env{Getenv: func(string) string { return "" }}, db, cfg, creds)
	if err != nil {
		t.Fatal(err)
	}
	if u.PollInterval != 2*time.Minute || u.BatchSize != 40 || u.RequestTimeout != 5*time.Minute {
		t.Errorf("terminal UI sync options = %+v", u)
	}
}

// TestConflictFollowsNewerServerChanges: a conflict waiting for review
// while the server's copy moves on shows the newest copy pulled (its
// value and version), and a field the newer change made conflict joins
// it; "theirs" then applies what the review showed, and the resolution
// goes through at once instead of meeting the newer change as a second
// conflict.
func TestConflictFollowsNewerServerChanges(t *testing.T) {
	t.Parallel()
	a, b, _, note := aliceOnTwoDevices(t)
	a.ok("edit", note, "title=T1")
	a.ok("sync")
	b.ok("edit", note, "title=Mine", "status=review")
	if r := b.run("sync"); r.code != exitConflicts {
		t.Fatalf("b's sync: exit %d, %q", r.code, r.stderr)
	}
	a.ok("edit", note, "title=T2", "status=closed")
	a.ok("sync")
	if r := b.run("sync"); r.code != exitConflicts || !strings.Contains(r.stdout, "pulled 1") {
		t.Fatalf("b's second sync: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	var shown model.Record
	b.okJSON(&shown, "show", note, "--json")
	var cs []conflictOut
	b.okJSON(&cs, "conflicts", "--json")
	if len(cs) != 1 || cs[0].TheirsVersion != shown.Version {
		t.Fatalf("conflicts = %+v; the record is at version %d", cs, shown.Version)
	}
	got := map[string]string{}
	for _, f := range cs[0].Fields {
		got[f.Field] = fmt.Sprintf("%v/%v/%v", f.Base, f.Mine, f.Theirs)
	}
	if got["title"] != "First meeting/Mine/T2" || got["status"] != "draft/review/closed" || len(got) != 2 {
		t.Fatalf("conflict fields %v, want title First meeting/Mine/T2 and status draft/review/closed", got)
	}
	b.ok("resolve", note, "--field", "title=theirs", "--field", "status=mine")
	if r := b.run("sync"); r.code != 0 || !strings.HasPrefix(r.stdout, "pushed 1,") {
		t.Fatalf("the resolution's sync: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	a.ok("sync")
	var rec model.Record
	a.okJSON(&rec, "show", note, "--json")
	if rec.Fields["title"] != "T2" || rec.Fields["status"] != "review" {
		t.Fatalf("after the resolution: %v", rec.Fields)
	}
}

// TestRefusedChangeOfARecordThatLeftIsCounted: a change refused after its
// matter's access was revoked keeps waiting, failed, while its record has
// left the device; status names it and sync exits 6 (changes refused), not
// 0, although no record on the device is failed.
func TestRefusedChangeOfARecordThatLeftIsCounted(t *testing.T) {
	t.Parallel()
	srv, _, h := aliceLoggedIn(t)
	matter, note := h.seed()
	h.ok("sync")
	if err := srv.Revoke(context.Background(), "alice", matter); err != nil {
		t.Fatal(err)
	}
	h.ok("edit", note, "title=Written before I knew")
	if r := h.run("sync"); r.code != exitFailed {
		t.Errorf("sync that met the revocation: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	if r := h.run("sync"); r.code != exitFailed {
		t.Errorf("the next sync, with the refused change waiting: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	var st statusReport
	h.okJSON(&st, "status", "--json")
	if st.FailedChanges != 1 || st.Failed != 0 {
		t.Errorf("status: %d failed changes, %d failed records; want 1 and 0", st.FailedChanges, st.Failed)
	}
	if out := h.ok("status"); !strings.Contains(out, "Failed:     1 change(s) refused by the server") {
		t.Errorf("status:\n%s", out)
	}
}

// TestSyncTimedOutRequestSaysSo: a sync without --timeout whose push
// gets no answer within the request timeout says the server did not
// answer in time, not that "the sync did not finish within 0s".
func TestSyncTimedOutRequestSaysSo(t *testing.T) {
	t.Parallel()
	srv, alice, h := aliceLoggedIn(t)
	fp, err := faultproxy.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer fp.Close()
	h.login(fp.URL, alice)
	h.env = map[string]string{"CASEFILE_REQUEST_TIMEOUT": "5s"}
	h.seed()
	fp.SetStallAbove(1, 0) // every push is held, unanswered
	r := h.run("sync")
	if r.code != exitUnreachable || strings.Contains(r.stderr, "within 0s") || !strings.Contains(r.stderr, "did not answer within 5s") {
		t.Fatalf("sync whose push went unanswered: exit %d, stderr %q", r.code, r.stderr)
	}
}
