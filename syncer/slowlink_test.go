package syncer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/model"
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
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "crawling", "body": strings.Repeat("evidence ", 400)})

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
