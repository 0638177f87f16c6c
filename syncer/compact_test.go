package syncer_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// TestResyncAfterCompaction: a device away while the server compacted a
// deletion it never pulled resyncs in full, page by page, through pages
// below the compaction mark. The record deleted meanwhile goes; the one it
// edited offline, which the other device deleted, goes too, and its edit
// stays as a failed op that says why; every other record is still there.
// An edit resent after its answer was compacted is refused as
// outcome_unknown, not applied a second time.
func TestResyncAfterCompaction(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *server.Options) { o.Retention = time.Hour })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice, func(o *syncer.Options) { o.PageSize = 2 })
	b := w.newDevice("b", alice, func(o *syncer.Options) { o.PageSize = 2 })
	m := a.create("matter", model.Fields{"title": "Away"})
	var notes []model.Record
	for i := range 7 {
		notes = append(notes, a.create("note", model.Fields{model.MatterField: m.ID, "title": title(i)}))
	}
	a.sync()
	b.sync()
	deleted, edited, lost := notes[1], notes[2], notes[3]
	// a edits two notes; one edit's answer is lost after the server applied it.
	a.update(lost.ID, model.Fields{"body": "applied, answer lost"})
	w.proxy.Inject("/v1/push", "drop")
	if _, err := a.s.RunOnce(ctx); !apiclient.IsTransient(err) {
		t.Fatalf("push with a lost answer: %v", err)
	}
	a.update(edited.ID, model.Fields{"body": "offline edit"})
	// Meanwhile b deletes two notes, and the server compacts everything.
	if err := b.db.Delete(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Delete(ctx, edited.ID); err != nil {
		t.Fatal(err)
	}
	b.sync()
	st, err := w.srv.Compact(ctx, time.Now().Add(2*time.Hour))
	if err != nil || st.Tombstones != 2 || st.LedgerEntries == 0 {
		t.Fatalf("compaction = %+v, %v", st, err)
	}

	sum, err := a.s.RunOnce(ctx)
	if err != nil {
		t.Fatalf("sync after the compaction: %v", err)
	}
	if sum.Pulled < 4 {
		t.Errorf("the full resync pulled %d records, want every live one again", sum.Pulled)
	}
	for _, n := range []model.Record{deleted, edited} {
		if _, err := a.db.Get(ctx, n.ID); !errors.Is(err, localdb.ErrNotFound) {
			t.Errorf("%s, deleted on the server, is still on the device: %v", n.Fields["title"], err)
		}
	}
	codes := map[string]protocol.Code{}
	for _, o := range a.outbox() {
		codes[o.RecordID] = o.ErrorCode
		if o.State != localdb.OpFailed {
			t.Errorf("op of %s is %s after the resync, want failed", o.RecordID, o.State)
		}
	}
	if codes[edited.ID] != protocol.CodeGone {
		t.Errorf("the offline edit of a note deleted elsewhere: code %q, want %q", codes[edited.ID], protocol.CodeGone)
	}
	if codes[lost.ID] != "outcome_unknown" {
		t.Errorf("the edit resent after its answer was compacted: code %q, want outcome_unknown", codes[lost.ID])
	}
	recs := serverRecords(t, alice)
	if got := recs[lost.ID]; got.Version != 2 || got.Fields["body"] != "applied, answer lost" {
		t.Errorf("the note whose answer was lost is at version %d with body %q; want it applied once", got.Version, got.Fields["body"])
	}
	for i, n := range notes {
		if n.ID == deleted.ID || n.ID == edited.ID {
			continue
		}
		if _, err := a.db.Get(ctx, n.ID); err != nil {
			t.Errorf("%s lost in the resync: %v", title(i), err)
		}
	}
}

// TestPullFromZeroDropsWhatItDoesNotShow: a device whose pulls never got
// through (its cursor is still 0) pushed a matter and a note, then lost
// the matter; the revocation was compacted before its first pull. That
// pull, from 0, cannot name the lost matter any more, so it counts as a
// resync: whatever it does not show goes from the device.
func TestPullFromZeroDropsWhatItDoesNotShow(t *testing.T) {
	// A change before alice's push that her device never pulls, so the
	// push answers cannot stand for a pull and her cursor stays 0.
	elsewhere := func(bob *servertest.Client) { bob.CreateMatter(t, "Elsewhere") }
	lostMatterAfterPushOnly(t, elsewhere, 0, "0")
}

// lostMatterAfterPushOnly: alice's device "a" pushes a matter and a note
// while every pull is cut (before, beforePush may write as bob), which
// leaves its cursor at wantCursor; then the matter goes to bob, alice loses
// it, and the revocation is compacted before a's next pull. That pull must
// take both records from the device.
func lostMatterAfterPushOnly(t *testing.T, beforePush func(bob *servertest.Client), wantCursor int64, why string) {
	t.Helper()
	ctx := context.Background()
	w := newWorld(t, func(o *server.Options) { o.Retention = time.Hour })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	bob := w.srv.NewUser(t, "bob", server.RoleMember)
	if beforePush != nil {
		beforePush(bob)
	}
	a := w.newDevice("a", alice)
	m := a.create("matter", model.Fields{"title": "Taken away"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "held"})
	w.proxy.Inject("/v1/pull", "unavailable")
	if _, err := a.s.RunOnce(ctx); !apiclient.IsTransient(err) {
		t.Fatalf("sync with the pull cut: %v", err)
	}
	if st, _ := a.db.Status(ctx); st.Cursor != wantCursor || len(a.outbox()) != 0 {
		t.Fatalf("after pushing with no pull: cursor %d, %d op(s) queued; want %s and 0", st.Cursor, len(a.outbox()), why)
	}
	if err := w.srv.Grant(ctx, "bob", m.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.Revoke(ctx, "alice", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.srv.Compact(ctx, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a.sync()
	for _, id := range []string{m.ID, n.ID} {
		if _, err := a.db.Get(ctx, id); !errors.Is(err, localdb.ErrNotFound) {
			t.Errorf("record %s of the lost matter is still on the device: %v", id, err)
		}
	}
}

// TestUndeliveredSendsDoNotCount: a device that could not connect for a
// long time kept trying to push; meanwhile the server compacted its
// answers. Attempts that never reached the server do not make the op a
// resend, so once connected it is applied — not refused outcome_unknown —
// while an op whose attempt may have reached the server is still resent.
func TestUndeliveredSendsDoNotCount(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(o *server.Options) { o.Retention = time.Hour })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	// No connection kept between exchanges: one the proxy's stop cut
	// would fail a push that may have reached the server, not one that
	// could not connect.
	a := w.newDevice("a", alice, func(o *syncer.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	})
	m := a.create("matter", model.Fields{"title": "Far away"})
	a.sync()
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "written offline"})
	w.proxy.Stop() // no connection can be made
	for range 3 {
		if _, err := a.s.RunOnce(ctx); apiclient.ClassOf(err) != apiclient.ClassUnreachable {
			t.Fatalf("sync with no connection: %v", err)
		}
		if _, err := a.db.RetryAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range a.outbox() {
		if o.Attempts < 3 || o.Resent {
			t.Fatalf("after three failed connections the op is %+v (attempts %d), want unsent", o.Op, o.Attempts)
		}
	}
	// Other work moves the server on, and its answers are compacted.
	mm := serverRecords(t, alice)[m.ID]
	alice.CreateNote(t, mm.ID, "elsewhere")
	if _, err := w.srv.Compact(ctx, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := w.proxy.Start(); err != nil {
		t.Fatal(err)
	}
	a.sync()
	if left := a.outbox(); len(left) != 0 {
		t.Fatalf("after reconnecting %d op(s) are left: %+v", len(left), left[0])
	}
	if got := serverRecords(t, alice)[n.ID]; got.Version != 1 {
		t.Errorf("the note written offline is at version %d on the server, want 1", got.Version)
	}
}
