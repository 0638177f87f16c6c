package syncer_test

import (
	"context"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// TestFreshDeviceLostRequestAfterCompaction: the server has compacted
// answers (its ledger mark is above 0) and other users have moved on. A
// new device writes and pushes before its first pull; the request is
// reset before the server reads it, and the next cycle sends it again. It
// must be applied: the device learned the server's head before its first
// push, so the resend says it was first sent from there, above the mark —
// not from cursor 0, which would have the server answer outcome_unknown
// for a change it never saw. So also when nothing happened on the server
// since a compaction that cleared every answer up to its head.
func TestFreshDeviceLostRequestAfterCompaction(t *testing.T) {
	for _, idle := range []bool{false, true} {
		t.Run(map[bool]string{false: "server busy since", true: "server idle since"}[idle], func(t *testing.T) {
			freshDeviceLostRequest(t, idle)
		})
	}
}

func freshDeviceLostRequest(t *testing.T, idle bool) {
	ctx := context.Background()
	w := newWorld(t, func(o *server.Options) { o.Retention = time.Hour })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Before")
	alice.CreateNote(t, m.ID, "old news")
	st, err := w.srv.Compact(ctx, time.Now().Add(2*time.Hour))
	if err != nil || st.LedgerThrough == 0 {
		t.Fatalf("compaction = %+v, %v; want answers compacted", st, err)
	}
	if !idle {
		alice.CreateNote(t, m.ID, "after the compaction")
	}

	d := w.newDevice("new", alice)
	mine := d.create("matter", model.Fields{"title": "Written on the new device"})
	w.proxy.Inject(protocol.PathPush, "reset")
	if _, err := d.s.RunOnce(ctx); !apiclient.IsTransient(err) {
		t.Fatalf("first push, reset: %v", err)
	}
	ops := d.outbox()
	if len(ops) != 1 || !ops[0].Resent {
		t.Fatalf("after the reset the outbox is %+v; want the create, marked as a resend", ops)
	}
	d.sync()
	if left := d.outbox(); len(left) != 0 {
		t.Fatalf("after the resend %d op(s) are left: %s %q", len(left), left[0].ErrorCode, left[0].LastError)
	}
	if got, ok := serverRecords(t, alice)[mine.ID]; !ok || got.Version != 1 {
		t.Errorf("the new device's matter on the server: %+v (found %v), want version 1", got, ok)
	}
}
