package syncer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/syncer"
)

func TestSyncRoundTrip(t *testing.T) {
	w, alice, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Smith v Jones"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "first"})
	sum := a.sync()
	if sum.Pushed != 2 || sum.Failed != 0 || sum.Retrying != 0 {
		t.Errorf("summary = %+v", sum)
	}
	if got := a.get(n.ID); got.State != model.StateSynced || got.Version != 1 {
		t.Errorf("note after sync: %+v", got)
	}
	assertMirrors(t, a)

	// A second device of the same user gets everything by pulling.
	b := w.newDevice("b", alice)
	sum = b.sync()
	if sum.Pulled != 2 {
		t.Errorf("fresh device pulled %d records, want 2", sum.Pulled)
	}
	assertMirrors(t, b)
	if !b.sawEvent(func(ev syncer.Event) bool { return ev.Kind == syncer.EventProgress && ev.Done == 2 && ev.Total >= 2 }) {
		t.Errorf("initial sync reported no progress")
	}
	last, err := b.db.Meta(context.Background(), syncer.MetaLastSync)
	if err != nil || last == "" {
		t.Errorf("last_sync not recorded: %q %v", last, err)
	}
}

// TestRetryDrivenByTimer: a push that fails for a passing reason is sent
// again by the syncer's own timer, with no new write to prompt it.
func TestRetryDrivenByTimer(t *testing.T) {
	w, _, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Retry"})
	w.proxy.Inject("/v1/push", faultproxy.Unavailable, faultproxy.Reset, faultproxy.Unavailable)
	a.start()
	waitFor(t, "the matter to be synced", func() bool { return a.get(m.ID).State == model.StateSynced })
	if got := w.proxy.Requests("/v1/push"); got < 4 {
		t.Errorf("%d push requests, want at least 4 (3 failures and a success)", got)
	}
	if !a.sawEvent(func(ev syncer.Event) bool { return ev.Kind == syncer.EventRecord && ev.State == model.StateRetrying }) {
		t.Errorf("no retrying event")
	}
	entries, err := a.db.Journal(context.Background(), localdb.JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, e := range entries {
		if e.Actor != "sync" {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("%d local writes in the journal, want only the create", writes)
	}
}

// TestLostResponseNoDuplicate: the server applies a push but the answer
// is lost; the replay of the same op id gets the original answer.
func TestLostResponseNoDuplicate(t *testing.T) {
	w, alice, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Lost"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "once"})
	w.proxy.Inject("/v1/push", faultproxy.Drop)
	_, err := a.s.RunOnce(context.Background())
	if !apiclient.IsTransient(err) {
		t.Fatalf("first sync: err = %v, want a transient failure", err)
	}
	if st := a.get(n.ID).State; st != model.StateRetrying {
		t.Errorf("after the lost answer the note is %s, want retrying", st)
	}
	head1, _ := w.srv.Head(context.Background())
	sum := a.sync()
	if sum.Pushed != 2 {
		t.Errorf("replay pushed %d, want 2 (the original answers)", sum.Pushed)
	}
	head2, _ := w.srv.Head(context.Background())
	if head2 != head1 {
		t.Errorf("the replay changed the server: head %d → %d", head1, head2)
	}
	recs := serverRecords(t, alice)
	if len(recs) != 2 || recs[n.ID].Version != 1 {
		t.Errorf("server holds %d records, note version %d; want 2 records, version 1", len(recs), recs[n.ID].Version)
	}
	assertMirrors(t, a)
}

// TestPoisonedOpDoesNotBlock: one op the server refuses — per op, or by
// failing every request it is in — never holds back the others.
func TestPoisonedOpDoesNotBlock(t *testing.T) {
	for _, fault := range []faultproxy.Fault{faultproxy.BadRequest, faultproxy.ServerError} {
		t.Run(string(fault), func(t *testing.T) {
			w, alice, a := newSolo(t)
			m := a.create("matter", model.Fields{"title": "Poison"})
			a.sync()
			var ids []string
			for i := range 20 {
				ids = append(ids, a.create("note", model.Fields{model.MatterField: m.ID, "title": title(i)}).ID)
			}
			poison := ids[7]
			w.proxy.SetRule(func(path string, body []byte) (faultproxy.Fault, bool) {
				if path == "/v1/push" && strings.Contains(string(body), poison) {
					return fault, true
				}
				return "", false
			})
			for range 4 { // a 500 is retried before the hunt for its cause
				a.s.RunOnce(context.Background())
			}
			for _, id := range ids {
				st := a.get(id).State
				switch {
				case id == poison && fault == faultproxy.BadRequest && st != model.StateFailed:
					t.Errorf("poisoned op: %s, want failed", st)
				case id == poison && fault == faultproxy.ServerError && st != model.StateRetrying:
					t.Errorf("poisoned op: %s, want retrying", st)
				case id != poison && st != model.StateSynced:
					t.Errorf("innocent %s: %s, want synced", id, st)
				}
			}
			if n := len(liveRecords(serverRecords(t, alice))); n != 20 {
				t.Errorf("server holds %d records, want 20 (matter and 19 notes)", n)
			}
		})
	}
}

// TestRejectedOpKeepsData: a change the server refuses for good becomes
// failed with the server's sentence; its data stays queued, and the others
// go through.
func TestRejectedOpKeepsData(t *testing.T) {
	w, _, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Mine"})
	a.sync()
	// A note of another user's, in a matter alice cannot see, took an id
	// first: a's create with the same id is refused for good, and nothing
	// of the other note reaches a (a create of an id alice can see would
	// be answered with the server's copy, as a restored backup is).
	bob := w.srv.NewUser(t, "bob", server.RoleMember)
	taken := bob.CreateNote(t, bob.CreateMatter(t, "Not alice's").ID, "first with this id")
	good := a.create("note", model.Fields{model.MatterField: m.ID, "title": "fine"})
	bad, err := a.db.Create(context.Background(), "note", taken.ID, model.Fields{model.MatterField: m.ID, "title": "late", "body": "keep me"})
	if err != nil {
		t.Fatal(err)
	}
	sum := a.sync()
	if sum.Failed != 1 || sum.Pushed != 1 {
		t.Errorf("summary = %+v, want 1 pushed and 1 failed", sum)
	}
	if st := a.get(good.ID).State; st != model.StateSynced {
		t.Errorf("good note: %s", st)
	}
	var failed *localdb.OutboxOp
	for _, o := range a.outbox() {
		if o.RecordID == bad.ID {
			failed = &o
		}
	}
	if failed == nil || failed.State != localdb.OpFailed || failed.LastError == "" || failed.Fields["body"] != "keep me" {
		t.Fatalf("refused op = %+v, want failed with a sentence and its fields", failed)
	}
	// The record keeps this device's values; the other user's note shows
	// nowhere.
	got := a.get(bad.ID)
	if got.Fields["title"] != "late" || got.Fields["body"] != "keep me" || got.State != model.StateFailed {
		t.Errorf("refused record shows %v (%s), want its own values, failed", got.Fields, got.State)
	}
	if strings.Contains(failed.LastError, "first with this id") {
		t.Errorf("the refusal shows another user's text: %q", failed.LastError)
	}
	if !a.sawEvent(func(ev syncer.Event) bool {
		return ev.Kind == syncer.EventRecord && ev.RecordID == bad.ID && ev.Result == model.ResultRejected && ev.Err != ""
	}) {
		t.Errorf("no rejected event with the server's sentence")
	}
}

// TestRateLimitHonoursRetryAfter: a 429 puts the ops off for at least the
// server's Retry-After, and the cycle stops there (no pull either).
func TestRateLimitHonoursRetryAfter(t *testing.T) {
	w, _, a := newSolo(t)
	a.create("matter", model.Fields{"title": "Busy server"})
	w.proxy.Inject("/v1/push", faultproxy.RateLimited)
	pulls := w.proxy.Requests("/v1/pull")
	before := time.Now()
	_, err := a.s.RunOnce(context.Background())
	if apiclient.ClassOf(err) != apiclient.ClassFailing {
		t.Fatalf("err = %v, want a failing exchange", err)
	}
	ops := a.outbox()
	if len(ops) != 1 || ops[0].State != localdb.OpRetrying || ops[0].NextAttempt.Before(before.Add(time.Second)) {
		t.Errorf("after a 429 with Retry-After: 1 the op is %+v, want retrying no sooner than a second later", ops)
	}
	if w.proxy.Requests("/v1/pull") != pulls {
		t.Errorf("pulled despite the rate limit")
	}
	if c := a.s.Connectivity(); c != syncer.Degraded {
		t.Errorf("connectivity %s, want degraded", c)
	}
}
