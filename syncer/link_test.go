package syncer_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// quiet is how long the negative checks below watch for traffic that
// must not happen: many watch intervals and retry delays of fastOptions.
const quiet = 300 * time.Millisecond

// TestTokenRefused: a revoked token stops the syncer with a sentence that
// says to log in again; nothing is dropped and nothing is retried in a loop.
func TestTokenRefused(t *testing.T) {
	w, _, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Before"})
	a.sync()
	a.start()
	if _, err := w.srv.RevokeTokens(context.Background(), "alice", ""); err != nil {
		t.Fatal(err)
	}
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "written after the revocation"})
	waitFor(t, "logged-out", func() bool { return a.s.Connectivity() == syncer.LoggedOut })
	waitFor(t, "an event telling the user to log in again", func() bool {
		return a.hasEvent(func(ev syncer.Event) bool { return ev.Kind == syncer.EventError && ev.Err == apiclient.SessionExpired })
	})
	if _, err := a.s.RunOnce(context.Background()); !errors.Is(err, apiclient.ErrSessionExpired) {
		t.Errorf("RunOnce while logged out: %v", err)
	}
	assertQuiet(t, w, "while logged out", func() {
		a.create("note", model.Fields{model.MatterField: m.ID, "title": "another"})
		a.s.SyncNow()
	})
	if ops := a.outbox(); len(ops) != 2 {
		t.Errorf("outbox holds %d ops, want both notes kept", len(ops))
	}
	if r := a.get(n.ID); r.Fields["title"] != "written after the revocation" {
		t.Errorf("note = %+v", r)
	}

	// Logging in again resumes where it stopped.
	again, err := servertest.Login(context.Background(), w.srv.URL, "alice", servertest.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	a.user = again
	if err := a.s.SetCredentials(w.proxy.URL, again.User, again.Token); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the notes to be synced", func() bool { return len(a.outbox()) == 0 })
	if a.s.Connectivity() == syncer.LoggedOut {
		t.Errorf("still logged out after new credentials")
	}
	assertMirrors(t, a)
}

// TestWorkOfflineMakesNoRequests: work offline means no traffic at all.
func TestWorkOfflineMakesNoRequests(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice, func(o *syncer.Options) { o.WorkOffline = true })
	a.start()
	m := a.create("matter", model.Fields{"title": "Offline"})
	a.s.SyncNow()
	if _, err := a.s.RunOnce(context.Background()); !errors.Is(err, syncer.ErrWorkOffline) {
		t.Errorf("RunOnce while working offline: %v", err)
	}
	time.Sleep(quiet)
	if got := w.proxy.Requests(""); got != 0 {
		t.Fatalf("%d requests while working offline", got)
	}
	if c := a.s.Connectivity(); c != syncer.WorkOffline {
		t.Errorf("connectivity %s", c)
	}
	if st := a.get(m.ID).State; st != model.StatePending {
		t.Errorf("matter is %s, want pending (saved offline)", st)
	}

	a.s.SetWorkOffline(false)
	waitFor(t, "the matter to be synced", func() bool { return a.get(m.ID).State == model.StateSynced })

	a.s.SetWorkOffline(true)
	// (assertQuiet first lets requests sent just before the switch arrive.)
	assertQuiet(t, w, "after turning work offline back on", func() {
		a.create("note", model.Fields{model.MatterField: m.ID, "title": "offline again"})
		a.s.SyncNow()
	})
}

// TestOfflineThenBack: an unreachable server makes the link offline; a
// light probe notices its return and the queue drains without a new write.
func TestOfflineThenBack(t *testing.T) {
	w, _, a := newSolo(t)
	w.proxy.Stop()
	a.start()
	m := a.create("matter", model.Fields{"title": "Field trip"})
	waitFor(t, "offline", func() bool { return a.s.Connectivity() == syncer.Offline })
	// While offline the syncer only probes; the change stays saved offline.
	time.Sleep(quiet)
	if st := a.get(m.ID).State; st != model.StatePending && st != model.StateRetrying {
		t.Errorf("matter is %s while offline, want pending or retrying", st)
	}
	if err := w.proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the matter to be synced", func() bool { return a.get(m.ID).State == model.StateSynced })
	if !a.sawEvent(func(ev syncer.Event) bool {
		return ev.Kind == syncer.EventConnectivity && ev.Connectivity == syncer.Online
	}) {
		t.Errorf("no event said the link is back")
	}
}

// TestServerRestart: the server stops and starts again on the same
// address while a device keeps writing; every record lands exactly once.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	r, err := faultproxy.NewRestarter(func() (faultproxy.Service, error) {
		return server.Open(context.Background(), server.Options{
			DataDir:      dir,
			Logger:       slog.New(slog.DiscardHandler),
			Password:     server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
			CompactEvery: -1,
			RateLimit:    -1,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	url := r.URL
	if err := r.Service().(*server.Server).AddUser(context.Background(), "alice", servertest.Password, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	alice, err := servertest.Login(context.Background(), url, "alice", servertest.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	d := &device{t: t, name: "a", user: alice, path: t.TempDir() + "/a.db"}
	d.open(url)
	d.start()
	m := d.create("matter", model.Fields{"title": "Restarts"})
	for i := range 30 {
		d.create("note", model.Fields{model.MatterField: m.ID, "title": title(i)})
		if i%10 == 5 {
			if err := r.Stop(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			if err := r.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "the outbox to drain", func() bool { return len(d.outbox()) == 0 })
	recs := liveRecords(serverRecords(t, alice))
	if len(recs) != 31 {
		t.Errorf("server holds %d records, want 31", len(recs))
	}
	titles := map[any]int{}
	for _, rec := range recs {
		titles[rec.Fields["title"]]++
		if rec.Version != 1 {
			t.Errorf("%v has version %d: applied more than once", rec.Fields["title"], rec.Version)
		}
	}
	for title, n := range titles {
		if n != 1 {
			t.Errorf("%v is on the server %d times", title, n)
		}
	}
	waitFor(t, "the device to catch up", func() bool {
		n, _ := d.db.Count(context.Background(), localdb.ListQuery{State: model.StateSynced})
		return n == 31
	})
	assertMirrors(t, d)
}

// TestDegradedOnServerErrors: a server that answers but fails makes the
// link degraded, not offline.
func TestDegradedOnServerErrors(t *testing.T) {
	w, _, a := newSolo(t)
	a.create("matter", model.Fields{"title": "Wobbly"})
	w.proxy.SetRule(func(string, []byte) (faultproxy.Fault, bool) { return faultproxy.Unavailable, true })
	if _, err := a.s.RunOnce(context.Background()); !apiclient.IsTransient(err) {
		t.Errorf("err = %v", err)
	}
	if c := a.s.Connectivity(); c != syncer.Degraded {
		t.Errorf("connectivity %s, want degraded", c)
	}
	w.proxy.SetRule(nil)
	a.sync()
	if c := a.s.Connectivity(); c != syncer.Online {
		t.Errorf("connectivity %s after a good cycle, want online", c)
	}
}

// TestWriteFromAnotherProcessIsPushed: a save through another connection
// to the same file (as the CLI makes while the UI runs) is noticed and
// pushed without any call to the syncer.
func TestWriteFromAnotherProcessIsPushed(t *testing.T) {
	_, alice, a := newSolo(t)
	a.start()
	other, err := localdb.Open(context.Background(), a.path, localdbtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	m, err := other.Create(context.Background(), "matter", "", model.Fields{"title": "From the CLI"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the matter on the server", func() bool {
		_, ok := serverRecords(t, alice)[m.ID]
		return ok
	})
}

// TestIdleSyncerIsQuiet: with nothing to send and no news, a started
// syncer makes no requests beyond its open event stream (its own commits
// do not wake it).
func TestIdleSyncerIsQuiet(t *testing.T) {
	w, _, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Quiet"})
	a.start()
	waitFor(t, "the matter to be synced", func() bool { return a.get(m.ID).State == model.StateSynced })
	waitFor(t, "the event stream", func() bool { return w.proxy.Requests("/v1/events") > 0 })
	// (assertQuiet first lets the pull that follows our own poke end.)
	assertQuiet(t, w, "while idle", func() {})
}

// assertQuiet settles the proxy, runs act, and checks that no request
// reaches the proxy for the quiet period after it.
func assertQuiet(t testing.TB, w *world, what string, act func()) {
	t.Helper()
	settle(w)
	before := w.proxy.Requests("")
	act()
	time.Sleep(quiet)
	if got := w.proxy.Requests(""); got != before {
		t.Errorf("%d requests %s", got-before, what)
	}
}

// settle waits until the proxy has seen no new request for a while, so
// that requests begun earlier do not count against what follows.
func settle(w *world) {
	last := w.proxy.Requests("")
	for range 50 {
		time.Sleep(quiet)
		n := w.proxy.Requests("")
		if n == last {
			return
		}
		last = n
	}
}

// TestDeviceRevokedEvent: a running syncer whose device an admin revokes
// tells its owner once, with EventRevoked, whether the event stream or a
// push meets the refusal first; it then makes no more requests.
func TestDeviceRevokedEvent(t *testing.T) {
	w, _, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Before"})
	a.sync()
	a.start()
	waitFor(t, "online", func() bool { return a.s.Connectivity() == syncer.Online })
	if err := w.srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	a.create("note", model.Fields{model.MatterField: m.ID, "title": "written after the revocation"})
	revoked := func(ev syncer.Event) bool { return ev.Kind == syncer.EventRevoked }
	waitFor(t, "the revocation event", func() bool { return a.hasEvent(revoked) })
	waitFor(t, "logged-out", func() bool { return a.s.Connectivity() == syncer.LoggedOut })
	a.s.SyncNow()
	settle(w)
	time.Sleep(quiet)
	a.mu.Lock()
	n := 0
	for _, ev := range a.events {
		if revoked(ev) {
			n++
			if ev.Err != syncer.RevokedSentence {
				t.Errorf("the event says %q", ev.Err)
			}
		}
	}
	a.mu.Unlock()
	if n != 1 {
		t.Errorf("%d revocation events, want 1", n)
	}
	if ops := a.outbox(); len(ops) != 1 {
		t.Errorf("the unsent note is gone from the queue: %d ops", len(ops))
	}
}
