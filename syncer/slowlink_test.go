package syncer_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/internal/faultproxy"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/syncer"
)

// TestSlowLinkTimesOut: on a link too slow for the request timeout the
// exchange is given up — during the upload, before the server hears it, or
// during the answer, after the server committed — and the op waits to be
// retried with the reason shown. Once the link is fast again the retry
// lands exactly once: nothing lost, nothing twice.
func TestSlowLinkTimesOut(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice, func(o *syncer.Options) { o.RequestTimeout = 300 * time.Millisecond })
	m := a.create("matter", model.Fields{"title": "Slow"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "crawling", "body": randomText(1, 3600)})

	// About 3.6 KB up and as much down at 4 KB/s: over a second each way.
	w.proxy.SetBandwidth(4_000)
	_, err := a.s.RunOnce(context.Background())
	var se *apiclient.Error
	if !apiclient.IsTransient(err) {
		t.Fatalf("sync on a crawling link: err = %v, want a transient failure", err)
	}
	if !errors.As(err, &se) || se.Message != "The server did not answer in time." {
		t.Errorf("sync on a crawling link: %v, want the server's slowness named", err)
	}
	got := a.get(n.ID)
	if got.State != model.StateRetrying {
		t.Errorf("after the timeout the note is %s, want retrying", got.State)
	}
	for _, op := range a.outbox() {
		if op.LastError == "" {
			t.Errorf("op %s of %s waits with no reason shown", op.Kind, op.RecordID)
		}
	}

	// The link recovers; the device restarts with the default timeout, so
	// that a busy machine cannot fail the retry on time alone.
	w.proxy.SetBandwidth(0)
	a.close()
	a.open(w.proxy.URL)
	a.sync()
	recs := serverRecords(t, alice)
	if len(recs) != 2 || recs[n.ID].Version != 1 || recs[n.ID].Fields["title"] != "crawling" {
		t.Errorf("the server holds %d records, note at version %d; want 2 records, the note once at version 1", len(recs), recs[n.ID].Version)
	}
	if left := a.outbox(); len(left) != 0 {
		t.Errorf("%d op(s) still queued after the link recovered", len(left))
	}
	assertMirrors(t, a)
}

// slowLinkNotes queues a matter and n notes of about size bytes each on
// d. The bodies are random text, so that compressed transfer cannot make
// them small: the sizes the tests stall on hold on the wire.
func slowLinkNotes(d *device, n, size int) {
	d.t.Helper()
	m := d.create("matter", model.Fields{"title": "Hearing"})
	for i := range n {
		d.create("note", model.Fields{model.MatterField: m.ID, "title": title(i), "body": randomText(uint64(i), size)})
	}
}

// randomText is about size bytes of text that does not compress much
// (base64 of random bytes), so that a link's byte limits hold on the wire
// with compressed transfer too.
func randomText(seed uint64, size int) string {
	rng := rand.New(rand.NewPCG(seed, uint64(size)))
	raw := make([]byte, size*3/4)
	for j := range raw {
		raw[j] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func cursorOf(t testing.TB, d *device) int64 {
	t.Helper()
	st, err := d.db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Cursor
}

// TestSlowLinkPullAdvances (issue 10, defect 2): on a link so slow that
// one default pull page takes several request timeouts to come down, the
// page still arrives — bytes keep moving, so the request timeout, which is
// on silence, never fires — and the cursor reaches the server's head. It
// used to give the page up at the timeout on every cycle, forever, with
// the cursor at 0.
func TestSlowLinkPullAdvances(t *testing.T) {
	const timeout = time.Second
	w, alice, a := newSolo(t)
	slowLinkNotes(a, 20, 1000)
	a.sync()
	head := cursorOf(t, a)

	// About 25 KB down at 12 KB/s: three timeouts' worth.
	w.proxy.SetBandwidth(12_000)
	b := w.newDevice("b", alice, func(o *syncer.Options) { o.RequestTimeout = timeout })
	start := time.Now()
	if _, err := b.s.RunOnce(context.Background()); err != nil {
		t.Fatalf("pull over a slow link: %v", err)
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("the pull took %v, less than the request timeout: the link was not slow enough to test anything", took)
	}
	if got := cursorOf(t, b); got != head {
		t.Errorf("cursor after a pull over a slow link = %d, want the head %d", got, head)
	}
	w.proxy.SetBandwidth(0)
	assertMirrors(t, b)
}

// TestStallingLinkShrinksPages: on a link that stalls on any answer
// larger than a few records (a hotspot that drops long transfers), a
// timed-out page is asked for again smaller, down to what the link
// carries, and the cursor reaches the head. With a fixed page size the
// same page stalled on every cycle and the cursor stayed at 0.
func TestStallingLinkShrinksPages(t *testing.T) {
	w, alice, a := newSolo(t)
	slowLinkNotes(a, 12, 3000)
	a.sync()
	head := cursorOf(t, a)

	w.proxy.SetStallAbove(0, 14_000) // four notes fit, eight do not
	b := w.newDevice("b", alice, func(o *syncer.Options) {
		o.RequestTimeout = 500 * time.Millisecond
		o.PageSize = 16
	})
	timeouts := 0
	for range 20 {
		_, err := b.s.RunOnce(context.Background())
		if err == nil {
			break
		}
		if !apiclient.TimedOut(err) {
			t.Fatalf("pull over a stalling link: %v, want only timeouts", err)
		}
		timeouts++
	}
	if got := cursorOf(t, b); got != head {
		t.Fatalf("cursor after %d timed-out pulls = %d, want the head %d", timeouts, got, head)
	}
	if timeouts == 0 {
		t.Fatal("no pull timed out: the link did not stall on a full page")
	}
	w.proxy.SetStallAbove(0, 0)
	assertMirrors(t, b)
}

// TestStallingLinkShrinksBatches: on a link that stalls on any request
// body larger than a few ops, a timed-out push batch is sent again
// smaller, down to one op, and every op reaches the server once. With a
// fixed batch size the same batch stalled on every cycle.
func TestStallingLinkShrinksBatches(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice, func(o *syncer.Options) { o.RequestTimeout = 500 * time.Millisecond })
	slowLinkNotes(a, 12, 3000)
	w.proxy.SetStallAbove(10_000, 0) // three notes fit, six do not
	timeouts := 0
	for range 30 {
		_, err := a.s.RunOnce(context.Background())
		if err == nil {
			break
		}
		if !apiclient.TimedOut(err) {
			t.Fatalf("push over a stalling link: %v, want only timeouts", err)
		}
		timeouts++
	}
	if left := a.outbox(); len(left) != 0 {
		t.Fatalf("%d op(s) still queued after %d timed-out pushes", len(left), timeouts)
	}
	if timeouts == 0 {
		t.Fatal("no push timed out: the link did not stall on a full batch")
	}
	w.proxy.SetStallAbove(0, 0)
	recs := serverRecords(t, alice)
	if len(recs) != 13 {
		t.Errorf("the server holds %d records, want 13", len(recs))
	}
	for id, r := range recs {
		if r.Version != 1 {
			t.Errorf("record %s at version %d, want 1: an op applied twice", id, r.Version)
		}
	}
	assertMirrors(t, a)
}

// TestCuttingLinkShrinksBatches: on a link that cuts any push larger than
// a few ops (the connection reset mid-upload, long before a timeout), each
// cut makes the next batch smaller until one gets through, and the size
// learned is kept in the local database: every run here is a new process,
// as each `casefile sync` is, and the queue still drains. A batch used to
// shrink only after a timeout, and each process started at the full size
// the link had just cut, so nothing was ever pushed.
func TestCuttingLinkShrinksBatches(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice)
	slowLinkNotes(a, 12, 3000)
	w.proxy.SetRule(func(path string, body []byte) (faultproxy.Fault, bool) {
		if path == protocol.PathPush && len(body) > 10_000 { // three notes fit, six do not
			return faultproxy.Reset, true
		}
		return "", false
	})
	runs := 0
	for ; len(a.outbox()) > 0; runs++ {
		if runs == 10 {
			t.Fatalf("%d op(s) still queued after %d runs over a cutting link", len(a.outbox()), runs)
		}
		if _, err := a.s.RunOnce(context.Background()); err != nil && !apiclient.LinkBroke(err) {
			t.Fatalf("push over a cutting link: %v, want only cut connections", err)
		}
		a.close()
		a.open(w.proxy.URL)
	}
	if w.proxy.Faults()[faultproxy.Reset] == 0 {
		t.Fatal("no push was cut: the link did not cut a full batch")
	}
	v, err := a.db.Meta(context.Background(), syncer.MetaPushBatch)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n >= syncer.DefaultBatchSize {
		t.Fatalf("remembered push batch %q, want a size below the full %d", v, syncer.DefaultBatchSize)
	}

	// More notes, a new process: it starts from the size the link taught,
	// not from the full batch, and a run or two pushes them all.
	slowLinkNotes(a, 12, 3000)
	cutsBefore := w.proxy.Faults()[faultproxy.Reset]
	a.close()
	a.open(w.proxy.URL)
	for range 2 {
		a.s.RunOnce(context.Background()) //nolint:errcheck // the queue says how it went
		a.close()
		a.open(w.proxy.URL)
	}
	if left := a.outbox(); len(left) != 0 {
		t.Fatalf("%d op(s) still queued after two runs that began with the remembered size", len(left))
	}
	if cuts := w.proxy.Faults()[faultproxy.Reset] - cutsBefore; cuts > 1 {
		t.Errorf("%d pushes cut after the size was learned, want at most one", cuts)
	}
	w.proxy.SetRule(nil)
	recs := serverRecords(t, alice)
	if len(recs) != 26 {
		t.Errorf("the server holds %d records, want 26", len(recs))
	}
	for id, r := range recs {
		if r.Version != 1 {
			t.Errorf("record %s at version %d, want 1: an op applied twice", id, r.Version)
		}
	}
}
