package server_test

import (
	"context"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestResendAfterLedgerCompaction: an op whose answer was lost is sent
// again marked resent, with the cursor its device held before first
// sending it. While the ledger holds its answer, that answer is replayed;
// once compaction may have erased it, an op first sent from before the
// ledger's mark is refused as outcome_unknown — never applied twice —
// while one first sent after the mark, or never sent before, is applied.
func TestResendAfterLedgerCompaction(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) { o.Retention = 24 * time.Hour })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Resent")
	note := alice.CreateNote(t, m.ID, "First")

	// The device was at cursor c when it first sent this edit; the
	// answer was lost on the way back.
	c, _ := srv.Head(ctx)
	edit := servertest.Update(note, model.Fields{"body": "once"})
	first := alice.PushOne(t, edit)
	expect(t, first, model.ResultApplied, "")

	// Before compaction the resend gets the stored answer, whatever it says.
	edit.Resent, edit.SentSince = true, c
	if got := alice.PushOne(t, edit); got.Result != model.ResultApplied || got.Record.Version != first.Record.Version {
		t.Fatalf("resend while the ledger holds the answer = %+v, want the first answer", got)
	}

	clk.Add(48 * time.Hour)
	st, err := srv.Compact(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.LedgerEntries == 0 || st.LedgerThrough <= c {
		t.Fatalf("compaction = %+v, want the old answers gone and the ledger mark past %d", st, c)
	}
	before, _ := srv.Head(ctx)
	got := alice.PushOne(t, edit)
	if got.Result != model.ResultRejected || got.Code != protocol.CodeOutcomeUnknown || got.Message == "" {
		t.Fatalf("resend after its answer was compacted = %+v, want rejected outcome_unknown with a sentence", got)
	}
	if after, _ := srv.Head(ctx); after != before {
		t.Errorf("the refused resend changed the server: head %d → %d", before, after)
	}
	pulled, err := alice.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pulled {
		for _, r := range p.Records {
			if r.ID == note.ID && r.Version != first.Record.Version {
				t.Errorf("the note is at version %d after the refused resend, want %d", r.Version, first.Record.Version)
			}
		}
	}

	// An op first sent from a cursor at or past the mark and never
	// answered (its request was lost on the way up) is applied: no answer
	// from the mark on was compacted, so none means never applied.
	alice.CreateNote(t, m.ID, "After the compaction")
	cur, _ := srv.Head(ctx)
	if cur < st.LedgerThrough {
		t.Fatalf("head %d is below the ledger mark %d after a new change", cur, st.LedgerThrough)
	}
	late := servertest.Update(first.Record, model.Fields{"body": "later"})
	late.Resent, late.SentSince = true, cur
	expect(t, alice.PushOne(t, late), model.ResultApplied, "")

	// An op sent for the first time is never refused for its age.
	fresh := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "New"})
	expect(t, alice.PushOne(t, fresh), model.ResultApplied, "")
}
