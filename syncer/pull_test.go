package syncer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/syncer"
)

// shared sets up alice with a matter and a note on two synced devices.
func shared(t *testing.T, w *world) (a, b *device, matterID, noteID string) {
	t.Helper()
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a = w.newDevice("a", alice)
	b = w.newDevice("b", alice)
	m := a.create("matter", model.Fields{"title": "Shared"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "t0", "body": "b0", "status": "draft"})
	a.sync()
	b.sync()
	return a, b, m.ID, n.ID
}

func TestConflictKeepsBaseMineTheirs(t *testing.T) {
	w := newWorld(t)
	a, b, _, n := shared(t, w)
	a.update(n, model.Fields{"title": "from a"})
	b.update(n, model.Fields{"title": "from b"})
	a.sync()
	sum := b.sync()
	if sum.Conflicts != 1 {
		t.Fatalf("summary = %+v, want one conflict", sum)
	}
	c, err := b.db.Conflict(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != model.ConflictEdit || len(c.Fields) != 1 {
		t.Fatalf("conflict = %+v", c)
	}
	f := c.Fields[0]
	if f.Field != "title" || f.Base != "t0" || f.Mine != "from b" || f.Theirs != "from a" {
		t.Errorf("conflict field = %+v, want title t0 / from b / from a", f)
	}
	if st := b.get(n).State; st != model.StateConflict {
		t.Errorf("record state %s, want conflict", st)
	}
	// Resolving makes a new op on the version it was reviewed against.
	if _, err := b.db.Resolve(context.Background(), n, model.Resolution{All: model.TakeMine}); err != nil {
		t.Fatal(err)
	}
	b.sync()
	a.sync()
	if got := a.get(n).Fields["title"]; got != "from b" {
		t.Errorf("after resolution a sees %v", got)
	}
	assertMirrors(t, a, b)
}

// TestPullKeepsPendingEdits: a pull never overwrites a local edit that
// has not been sent; the server's other changes land around it.
func TestPullKeepsPendingEdits(t *testing.T) {
	w := newWorld(t)
	a, b, _, n := shared(t, w)
	b.update(n, model.Fields{"body": "b's unsent body"})
	a.update(n, model.Fields{"title": "a's title"})
	a.sync()
	if _, err := b.s.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := b.get(n)
	if got.Fields["body"] != "b's unsent body" || got.Fields["title"] != "a's title" || got.State != model.StatePending {
		t.Errorf("after pull b shows %v (%s), want a's title with b's pending body", got.Fields, got.State)
	}
	if sum := b.sync(); sum.Pushed != 1 || sum.Conflicts != 0 {
		t.Errorf("summary = %+v, want the edit merged", sum)
	}
	a.sync()
	assertMirrors(t, a, b)
}

// TestTombstonesNeverResurrect: a record deleted on the server stays
// deleted here, through later pulls and a full resync.
func TestTombstonesNeverResurrect(t *testing.T) {
	w := newWorld(t)
	a, b, _, n := shared(t, w)
	if err := a.db.Delete(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	a.sync()
	b.sync()
	if _, err := b.db.Get(context.Background(), n); !errors.Is(err, localdb.ErrNotFound) {
		t.Fatalf("b still has the deleted note: %v", err)
	}
	if err := b.db.ResetCursor(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.sync()
	a.sync()
	for _, d := range []*device{a, b} {
		if _, err := d.db.Get(context.Background(), n); !errors.Is(err, localdb.ErrNotFound) {
			t.Errorf("%s: the deleted note came back: %v", d.name, err)
		}
		assertMirrors(t, d)
	}
}

// TestRevokedAccessKeepsUnsentWork: losing a matter drops its records here
// and keeps their unsent changes as failed, with the reason.
func TestRevokedAccessKeepsUnsentWork(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	bob := w.srv.NewUser(t, "bob", server.RoleMember)
	m := alice.CreateMatter(t, "Alice's matter")
	alice.CreateNote(t, m.ID, "visible to bob for now")
	if err := w.srv.Grant(context.Background(), "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	b := w.newDevice("b", bob)
	b.sync()
	if n, _ := b.db.Count(context.Background(), localdb.ListQuery{}); n != 2 {
		t.Fatalf("bob's device has %d records, want 2", n)
	}
	b.create("note", model.Fields{model.MatterField: m.ID, "title": "bob's unsent note", "body": "precious"})
	b.s.SetWorkOffline(true)
	if err := w.srv.Revoke(context.Background(), "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	b.s.SetWorkOffline(false)
	b.s.RunOnce(context.Background())
	if n, _ := b.db.Count(context.Background(), localdb.ListQuery{MatterID: m.ID}); n != 0 {
		t.Errorf("bob's device still shows %d records of the revoked matter", n)
	}
	ops := b.outbox()
	if len(ops) != 1 || ops[0].State != localdb.OpFailed || ops[0].LastError == "" || ops[0].Fields["body"] != "precious" {
		t.Fatalf("outbox = %+v, want the unsent note kept as failed with a reason", ops)
	}
}

// TestCursorTooOldResyncs: a cursor the server compacted past leads to a
// full resync that keeps unsent changes.
func TestCursorTooOldResyncs(t *testing.T) {
	w := newWorld(t, func(o *server.Options) { o.Retention = time.Millisecond })
	a, b, m, n := shared(t, w)
	b.update(n, model.Fields{"body": "b's unsent body"})
	gone := a.create("note", model.Fields{model.MatterField: m, "title": "short-lived"})
	a.sync()
	if err := a.db.Delete(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	a.create("note", model.Fields{model.MatterField: m, "title": "new"})
	a.sync()
	time.Sleep(5 * time.Millisecond) // older than the retention
	st, err := w.srv.Compact(context.Background(), time.Now())
	if err != nil || st.Tombstones == 0 {
		t.Fatalf("compact: %+v %v", st, err)
	}
	if _, err := b.s.Pull(context.Background()); err != nil {
		t.Fatalf("pull after compaction: %v", err)
	}
	if !journalHas(t, b, "reset") {
		t.Errorf("no full resync happened")
	}
	got := b.get(n)
	if got.Fields["body"] != "b's unsent body" || got.State != model.StatePending {
		t.Errorf("after the resync b shows %v (%s), want its unsent body kept", got.Fields, got.State)
	}
	b.sync()
	a.sync()
	assertMirrors(t, a, b)
}

// TestPullNotBlockedByFailingPush: uploads that keep failing never stop
// the server's changes from coming in.
func TestPullNotBlockedByFailingPush(t *testing.T) {
	w := newWorld(t)
	a, b, m, n := shared(t, w)
	b.update(n, model.Fields{"body": "stuck"})
	failPushes := func(path string, body []byte) (faultproxy.Fault, bool) {
		return faultproxy.ServerError, path == "/v1/push"
	}
	w.proxy.SetRule(failPushes)
	news := a.create("note", model.Fields{model.MatterField: m, "title": "news"})
	a.s.RunOnce(context.Background()) // fails too: the rule hits every push
	w.proxy.SetRule(nil)
	a.sync()
	w.proxy.SetRule(failPushes)
	_, err := b.s.RunOnce(context.Background())
	if apiclient.ClassOf(err) != apiclient.ClassFailing {
		t.Errorf("sync with failing pushes: err = %v", err)
	}
	if got := b.get(news.ID); got.Fields["title"] != "news" {
		t.Errorf("the pull did not run: %+v", got)
	}
	if st := b.get(n).State; st != model.StateRetrying {
		t.Errorf("the stuck edit is %s, want retrying", st)
	}
}

// TestPokeTriggersPull: with polling out of the way, a change saved on one
// device reaches another online device through the event stream.
func TestPokeTriggersPull(t *testing.T) {
	w := newWorld(t)
	a, b, m, _ := shared(t, w)
	a.start()
	b.start()
	waitFor(t, "b's event stream", func() bool { return b.s.Connectivity() == syncer.Online })
	before := w.proxy.Requests("/v1/pull")
	n := a.create("note", model.Fields{model.MatterField: m, "title": "live"})
	waitForRecord(t, b, n.ID, "the note on b")
	if w.proxy.Requests("/v1/pull") == before {
		t.Errorf("no pull was made")
	}
	// Streams cut by the network come back, and pokes keep working.
	w.proxy.CloseStreams()
	n2 := a.create("note", model.Fields{model.MatterField: m, "title": "after the cut"})
	waitForRecord(t, b, n2.ID, "the second note on b")
}

// journalHas reports whether the device's journal has an entry of kind.
func journalHas(t testing.TB, d *device, kind localdb.JournalKind) bool {
	t.Helper()
	entries, err := d.db.Journal(context.Background(), localdb.JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// TestInitialSyncProgress: a fresh device reports records so far against
// the server's estimate, page by page.
func TestInitialSyncProgress(t *testing.T) {
	w := newWorld(t)
	alice := manyPages(t, w, 9)
	fresh := w.newDevice("fresh", alice, func(o *syncer.Options) { o.PageSize = 3 })
	if sum := fresh.sync(); sum.Pulled != 10 {
		t.Fatalf("pulled %d, want 10", sum.Pulled)
	}
	// Events reach the device's reader after the sync returns: wait for
	// the last page's (or give up and report what came).
	var done []int64
	progress := func() bool {
		done = done[:0]
		fresh.mu.Lock()
		defer fresh.mu.Unlock()
		for _, ev := range fresh.events {
			if ev.Kind == syncer.EventProgress {
				done = append(done, ev.Done)
				if ev.Total < ev.Done || ev.Total > 10 {
					t.Errorf("progress %d of %d", ev.Done, ev.Total)
				}
			}
		}
		return len(done) > 0 && done[len(done)-1] == 10
	}
	for deadline := time.Now().Add(10 * time.Second); !progress() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if len(done) != 4 || done[len(done)-1] != 10 {
		t.Errorf("progress went %v, want 4 pages ending at 10", done)
	}
	assertMirrors(t, fresh)
}

// TestOpBehindConflictWaitsForReview: an edit queued behind an op that
// met a conflict waits for the review and is not counted as retryable.
func TestOpBehindConflictWaitsForReview(t *testing.T) {
	w := newWorld(t)
	a, b, _, n := shared(t, w)
	ctx := context.Background()
	b.update(n, model.Fields{"title": "b's title"})
	sent, err := b.db.NextBatch(ctx, time.Now(), 10) // as if sent, answer lost
	if err != nil || len(sent) != 1 {
		t.Fatalf("next batch: %v %v", sent, err)
	}
	b.update(n, model.Fields{"body": "queued behind"})
	if err := b.db.MarkRetry(ctx, []string{sent[0].OpID}, "lost", time.Now()); err != nil {
		t.Fatal(err)
	}
	a.update(n, model.Fields{"title": "a's title"})
	a.sync()
	sum, err := b.s.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Conflicts != 1 || sum.Retrying != 0 {
		t.Errorf("summary = %+v, want one conflict and nothing retryable", sum)
	}
	if ops := b.outbox(); len(ops) != 2 || ops[0].State != localdb.OpConflict || ops[1].State != localdb.OpPending {
		t.Errorf("outbox = %+v, want the conflict and the edit behind it", ops)
	}
}
