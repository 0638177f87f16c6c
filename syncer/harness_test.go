package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// world is a real server behind a fault proxy, and the clients of a test.
type world struct {
	t     testing.TB
	srv   *servertest.Server
	proxy *faultproxy.Proxy
}

func newWorld(t testing.TB, opts ...servertest.Option) *world {
	t.Helper()
	srv := servertest.Start(t, append([]servertest.Option{func(o *server.Options) {
		o.RateLimit = -1 // tests push and pull fast
	}}, opts...)...)
	p, err := faultproxy.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &world{t: t, srv: srv, proxy: p}
}

// newSolo is the start most tests share: a world with one member, alice,
// and her device "a".
func newSolo(t testing.TB, opts ...servertest.Option) (*world, *servertest.Client, *device) {
	t.Helper()
	w := newWorld(t, opts...)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	return w, alice, w.newDevice("a", alice)
}

// sharedMatter makes alice and bob, members both, and a matter of
// alice's that bob is granted.
func (w *world) sharedMatter(t testing.TB) (alice, bob *servertest.Client, m *protocol.Record) {
	t.Helper()
	alice = w.srv.NewUser(t, "alice", server.RoleMember)
	bob = w.srv.NewUser(t, "bob", server.RoleMember)
	m = alice.CreateMatter(t, "Shared matter")
	if err := w.srv.Grant(context.Background(), "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	return alice, bob, m
}

// device is one client: its own local database and syncer, talking to
// the server through the proxy.
type device struct {
	t    testing.TB
	name string
	user *servertest.Client
	path string
	db   *localdb.DB
	s    *syncer.Syncer
	// lopts are more options its database opens with.
	lopts []localdb.Option

	mu     sync.Mutex
	events []syncer.Event
	done   chan struct{}
}

// eventLag is how long the device's reader takes to keep the events
// that have come.
const eventLag = 20 * time.Millisecond

// fastOptions keep retries and watches short so that tests run quickly.
func fastOptions(server, token string) syncer.Options {
	fast := syncer.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond}
	return syncer.Options{
		Server:        server,
		Token:         token,
		Device:        "test",
		PollInterval:  time.Hour, // nothing here relies on polling unless it says so
		WatchInterval: 20 * time.Millisecond,
		OpBackoff:     fast,
		StreamBackoff: fast,
		ProbeBackoff:  fast,
		Rand:          syncer.LockedRand(1),
	}
}

// newDevice opens a fresh local database for user and a syncer on it.
func (w *world) newDevice(name string, user *servertest.Client, tweak ...func(*syncer.Options)) *device {
	w.t.Helper()
	d := &device{t: w.t, name: name, user: user, path: filepath.Join(w.t.TempDir(), name+".db")}
	d.open(w.proxy.URL, tweak...)
	return d
}

func (d *device) open(serverURL string, tweak ...func(*syncer.Options)) {
	d.t.Helper()
	opts := fastOptions(serverURL, d.user.Token)
	for _, fn := range tweak {
		fn(&opts)
	}
	lopts := d.lopts
	if opts.Now != nil {
		lopts = append(lopts, localdb.WithClock(opts.Now)) // one clock for the device
	}
	db, err := localdb.Open(context.Background(), d.path, localdbtest.Schema(d.t), lopts...)
	if err != nil {
		d.t.Fatal(err)
	}
	d.db = db
	d.s = syncer.New(db, opts)
	d.done = make(chan struct{})
	go d.collect(d.s, d.done)
	d.t.Cleanup(d.close)
}

// collect keeps every event for assertions, a moment after it comes,
// with those that came meanwhile. A reader of events (the UI) takes them
// after the syncer emitted them; with the lag, a test that looks for one
// as soon as a sync returns, without waiting for it (sawEvent), fails
// here rather than now and then.
func (d *device) collect(s *syncer.Syncer, done chan struct{}) {
	defer close(done)
	events := s.Events()
	for ev := range events {
		time.Sleep(eventLag)
		burst := []syncer.Event{ev}
		for len(events) > 0 { // this goroutine is the channel's only reader
			burst = append(burst, <-events)
		}
		d.mu.Lock()
		d.events = append(d.events, burst...)
		d.mu.Unlock()
	}
}

func (d *device) close() {
	if d.s == nil {
		return
	}
	d.s.Close()
	<-d.done
	d.db.Close()
	d.s, d.db = nil, nil
}

// hasEvent reports whether an event matching fn has reached the device's
// reader yet. Events reach it after the syncer emits them, through a
// channel: a check that one came waits for it (sawEvent), a check that
// none came waits for the channel to drain (sawNoEvent).
func (d *device) hasEvent(fn func(syncer.Event) bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ev := range d.events {
		if fn(ev) {
			return true
		}
	}
	return false
}

// sawEvent reports whether an event matching fn was emitted, waiting a
// while for it to reach the device's reader.
func (d *device) sawEvent(fn func(syncer.Event) bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !d.hasEvent(fn) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// sawNoEvent reports whether no event matching fn was emitted so far:
// it waits until the reader has taken every event the channel holds.
func (d *device) sawNoEvent(fn func(syncer.Event) bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for len(d.s.Events()) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * eventLag) // those the reader holds, taken but not yet kept
	return !d.hasEvent(fn)
}

func (d *device) start() { d.s.Start(context.Background()) }

// sync runs one full cycle and fails the test on error.
func (d *device) sync() syncer.Summary {
	d.t.Helper()
	sum, err := d.s.RunOnce(context.Background())
	if err != nil {
		d.t.Fatalf("%s: sync: %v", d.name, err)
	}
	return sum
}

func (d *device) create(collection string, fields model.Fields) model.Record {
	d.t.Helper()
	r, err := d.db.Create(context.Background(), collection, "", fields)
	if err != nil {
		d.t.Fatalf("%s: create %s: %v", d.name, collection, err)
	}
	return r
}

func (d *device) update(id string, fields model.Fields) model.Record {
	d.t.Helper()
	r, err := d.db.Update(context.Background(), id, fields)
	if err != nil {
		d.t.Fatalf("%s: update %s: %v", d.name, id, err)
	}
	return r
}

func (d *device) get(id string) model.Record {
	d.t.Helper()
	r, err := d.db.Get(context.Background(), id)
	if err != nil {
		d.t.Fatalf("%s: get %s: %v", d.name, id, err)
	}
	return r
}

func (d *device) outbox() []localdb.OutboxOp {
	d.t.Helper()
	ops, err := d.db.Outbox(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	return ops
}

// serverRecords pulls everything the user may see, straight from the
// server, by id.
func serverRecords(t testing.TB, c *servertest.Client) map[string]protocol.Record {
	t.Helper()
	pages, err := c.PullAll(context.Background(), 0)
	if err != nil {
		t.Fatalf("pull from server: %v", err)
	}
	out := map[string]protocol.Record{}
	for _, p := range pages {
		for _, r := range p.Records {
			out[r.ID] = r
		}
		for _, m := range p.DroppedMatters {
			for id, r := range out {
				if r.MatterID == m {
					delete(out, id)
				}
			}
		}
	}
	return out
}

// liveRecords drops tombstones.
func liveRecords(m map[string]protocol.Record) map[string]protocol.Record {
	out := map[string]protocol.Record{}
	for id, r := range m {
		if !r.Deleted {
			out[id] = r
		}
	}
	return out
}

// waitFor polls cond until it holds. The deadline only keeps a broken
// build from hanging; nothing here measures speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForRecord waits until the device holds the record id.
func waitForRecord(t testing.TB, d *device, id, what string) {
	t.Helper()
	waitFor(t, what, func() bool {
		_, err := d.db.Get(context.Background(), id)
		return err == nil
	})
}

// sameFields compares two field sets as normalised values.
func sameFields(a, b model.Fields) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !model.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// assertMirrors checks that each device holds exactly the server's live
// records, field for field, with nothing waiting.
func assertMirrors(t testing.TB, ds ...*device) {
	t.Helper()
	for _, d := range ds {
		assertMirror(t, d)
	}
}

func assertMirror(t testing.TB, d *device) {
	t.Helper()
	want := liveRecords(serverRecords(t, d.user))
	got, err := d.db.List(context.Background(), localdb.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%s holds %d records, the server %d", d.name, len(got), len(want))
	}
	for _, r := range got {
		sr, ok := want[r.ID]
		if !ok {
			t.Errorf("%s holds %s %s the server does not have", d.name, r.Collection, r.ID)
			continue
		}
		if !sameFields(r.Fields, sr.Fields) || r.Version != sr.Version {
			t.Errorf("%s: %s differs: local v%d %v, server v%d %v", d.name, r.ID, r.Version, r.Fields, sr.Version, sr.Fields)
		}
		if r.State != model.StateSynced {
			t.Errorf("%s: %s is %s, not synced", d.name, r.ID, r.State)
		}
	}
}

func title(i int) string { return fmt.Sprintf("note %03d", i) }

// manyPages gives w a member, alice, with a matter of n notes (titled by
// title), for pulls of several pages, and returns her client.
func manyPages(t *testing.T, w *world, n int) *servertest.Client {
	t.Helper()
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Many pages")
	for i := range n {
		alice.CreateNote(t, m.ID, title(i))
	}
	return alice
}
