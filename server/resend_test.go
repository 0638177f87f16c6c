package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	srv, clk, alice := compacting(t)
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

// TestRestoreAfterTombstoneCompacted: a device that saw a record deleted
// at version v restores it (the "mine" side of an edit-of-deleted
// conflict) after compaction removed the tombstone. The record comes back
// at v+1, not as a new record at version 1, which every device that saw
// the tombstone would take for older news.
func TestRestoreAfterTombstoneCompacted(t *testing.T) {
	ctx := context.Background()
	srv, clk, alice := compacting(t)
	m := alice.CreateMatter(t, "Restored")
	note := alice.CreateNote(t, m.ID, "Deleted, then wanted back")
	edited := alice.PushOne(t, servertest.Update(note, model.Fields{"body": "kept"}))
	gone := alice.PushOne(t, servertest.Delete(edited.Record))
	expect(t, gone, model.ResultApplied, "")
	clk.Add(48 * time.Hour)
	if st, err := srv.Compact(ctx, clk.Now()); err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the tombstone gone", st, err)
	}
	restore := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Deleted, then wanted back", "body": "kept"})
	restore.RecordID, restore.BaseVersion = note.ID, gone.Record.Version
	got := alice.PushOne(t, restore)
	expect(t, got, model.ResultApplied, "")
	if got.Record.Version != gone.Record.Version+1 || got.Record.Deleted {
		t.Fatalf("restored at version %d (deleted %v), want %d", got.Record.Version, got.Record.Deleted, gone.Record.Version+1)
	}
	// An edit based on the restored version goes on as usual.
	expect(t, alice.PushOne(t, servertest.Update(got.Record, model.Fields{"title": "Back"})), model.ResultApplied, "")
}

// TestRestoreElsewhereAfterCompactionTellsTheOldMatter: a record deleted
// in a matter two users share, its tombstone compacted, is restored by
// one of them into a matter of their own (an edit that moved it, kept
// over the delete). The other user's device may still hold the tombstone
// (its own edit of it in conflict): its next pull must remove the record,
// as for any move out of its sight, so the device never keeps a record of
// a matter its user may not see (sim seed 3568). A third user, who never
// could see the record, may not bring it back: the grave that says where
// it was refuses them, as the tombstone would have.
func TestRestoreElsewhereAfterCompactionTellsTheOldMatter(t *testing.T) {
	ctx := context.Background()
	srv, clk, alice := compacting(t)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	carol := srv.NewUser(t, "carol", server.RoleMember)
	shared := alice.CreateMatter(t, "Shared")
	if err := srv.Grant(ctx, "bob", shared.ID); err != nil {
		t.Fatal(err)
	}
	note := alice.CreateNote(t, shared.ID, "Deleted, then moved back to life")
	gone := alice.PushOne(t, servertest.Delete(note))
	expect(t, gone, model.ResultApplied, "")
	pages, err := bob.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cursor := pages[len(pages)-1].Cursor
	clk.Add(48 * time.Hour)
	if st, err := srv.Compact(ctx, clk.Now()); err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the tombstone gone", st, err)
	}
	theirs := carol.CreateMatter(t, "Carol's")
	steal := servertest.Create("note", model.Fields{model.MatterField: theirs.ID, "title": "Mine now"})
	steal.RecordID, steal.BaseVersion = note.ID, gone.Record.Version
	expect(t, carol.PushOne(t, steal), model.ResultRejected, protocol.CodeIDConflict)

	private := alice.CreateMatter(t, "Alice's alone")
	restore := servertest.Create("note", model.Fields{model.MatterField: private.ID, "title": "Deleted, then moved back to life"})
	restore.RecordID, restore.BaseVersion = note.ID, gone.Record.Version
	got := alice.PushOne(t, restore)
	expect(t, got, model.ResultApplied, "")
	if got.Record.Version != gone.Record.Version+1 || got.Record.MatterID != private.ID {
		t.Fatalf("restored at version %d in %s, want %d in %s", got.Record.Version, got.Record.MatterID, gone.Record.Version+1, private.ID)
	}
	pages, err = bob.PullAll(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	for _, p := range pages {
		for _, r := range p.Records {
			if r.ID == note.ID {
				t.Fatalf("bob's pull shows the restored note of a matter he may not see: %+v", r)
			}
		}
		for _, rm := range p.Removed {
			removed = removed || rm.ID == note.ID
		}
	}
	if !removed {
		t.Fatalf("bob's pull after the restore elsewhere does not remove the note: %+v", pages)
	}
}

// TestCreateAgainAfterCompactionLeavesItDeleted: a create on base 0 of a
// record whose tombstone compaction removed — a create sent again, an old
// backup imported on a new device — is answered as on the tombstone: the
// delete stands (merged, the record deleted at its last version, nothing
// written), and it is refused id_conflict to a user who may not see the
// record's matter or as another collection. Before graves were read for
// it, the record came back at version 1, in whatever matter the create
// named: a delete older than the retention undone by an old backup.
func TestCreateAgainAfterCompactionLeavesItDeleted(t *testing.T) {
	ctx := context.Background()
	srv, clk, alice := compacting(t)
	carol := srv.NewUser(t, "carol", server.RoleMember)
	m := alice.CreateMatter(t, "Smith v Jones")
	note := alice.CreateNote(t, m.ID, "Deleted long ago")
	gone := alice.PushOne(t, servertest.Delete(note))
	expect(t, gone, model.ResultApplied, "")
	clk.Add(48 * time.Hour)
	if st, err := srv.Compact(ctx, clk.Now()); err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the tombstone gone", st, err)
	}
	head, err := srv.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := func(collection string, fields model.Fields) model.Op {
		op := servertest.Create(collection, fields)
		op.RecordID = note.ID
		return op
	}
	// With a new record in the same batch: the batch's reads ahead of its
	// ops answer for the grave.
	fresh := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "New"})
	resp, err := alice.Push(ctx, fresh, again("note", model.Fields{model.MatterField: m.ID, "title": "Deleted long ago"}))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, resp.Results[0], model.ResultApplied, "")
	got := resp.Results[1]
	expect(t, got, model.ResultMerged, "")
	if r := got.Record; r == nil || !r.Deleted || r.Version != gone.Record.Version || r.MatterID != m.ID || r.Collection != "note" {
		t.Fatalf("the create again answers %+v; want the note deleted at version %d in %s", r, gone.Record.Version, m.ID)
	}
	if !slices.Equal(got.Dropped, []string{"matter_id", "title"}) {
		t.Fatalf("dropped %v, want the create's fields", got.Dropped)
	}
	// Alone in its batch, the grave is read where the op needs it.
	expect(t, alice.PushOne(t, again("note", model.Fields{model.MatterField: m.ID, "title": "x"})), model.ResultMerged, "")
	expect(t, carol.PushOne(t, again("note", model.Fields{model.MatterField: carol.CreateMatter(t, "Carol's").ID, "title": "Mine"})),
		model.ResultRejected, protocol.CodeIDConflict)
	expect(t, alice.PushOne(t, again(model.MatterCollection, model.Fields{"title": "A matter now"})), model.ResultRejected, protocol.CodeIDConflict)
	pages, err := alice.PullAll(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		for _, r := range p.Records {
			if r.ID == note.ID {
				t.Fatalf("the note came back: %+v", r)
			}
		}
	}
}

// TestReplayHidesARecordMovedOutOfSight: a create sent again is answered
// from the ledger, whose stored answer shows the record as it was then.
// Once another member has moved the record into a matter the sender may
// not see, the replay must not show it again: not its old title, not its
// old matter. Before, only the stored answer's matter was checked, and
// the sender still saw that one (found by the compacting access property,
// random seed 1796579399253848565).
func TestReplayHidesARecordMovedOutOfSight(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	shared := bob.CreateMatter(t, "Shared")
	bobs := bob.CreateMatter(t, "Bob's alone")
	if err := srv.Grant(ctx, "alice", shared.ID); err != nil {
		t.Fatal(err)
	}
	create := servertest.Create("note", model.Fields{model.MatterField: shared.ID, "title": "Written by alice"})
	first := alice.PushOne(t, create)
	expect(t, first, model.ResultApplied, "")
	moved := bob.PushOne(t, servertest.Update(first.Record, model.Fields{model.MatterField: bobs.ID}))
	expect(t, moved, model.ResultApplied, "")
	again := alice.PushOne(t, create)
	expect(t, again, model.ResultApplied, "")
	if again.Record != nil {
		t.Fatalf("the replay shows alice a record now in a matter she may not see: %+v", again.Record)
	}
	// Moved back where she sees it, the record shows again.
	expect(t, bob.PushOne(t, servertest.Update(moved.Record, model.Fields{model.MatterField: shared.ID})), model.ResultApplied, "")
	if again := alice.PushOne(t, create); again.Record == nil || again.Record.ID != create.RecordID {
		t.Fatalf("the replay after the record came back: %+v", again)
	}
}

// TestFullPullPassesTheMark: the later pages of a full pull (from cursor
// 0) read on below the compaction mark while the mark has not moved since
// the pull began, where an ordinary pull must resync. Once a compaction
// raises the mark mid-pull — here it removes the tombstone of a note the
// pull had already shown alive — the next page answers cursor_too_old, so
// the client starts over instead of keeping a note the server deleted.
func TestFullPullPassesTheMark(t *testing.T) {
	ctx := context.Background()
	srv, clk, alice := compacting(t)
	m := alice.CreateMatter(t, "Paged")
	var live []string
	for i := range 6 {
		n := alice.CreateNote(t, m.ID, fmt.Sprintf("note %d", i))
		live = append(live, n.ID)
	}
	doomed := alice.CreateNote(t, m.ID, "deleted late")
	expect(t, alice.PushOne(t, servertest.Delete(doomed)), model.ResultApplied, "")
	clk.Add(48 * time.Hour)
	st, err := srv.Compact(ctx, clk.Now())
	if err != nil || st.CompactedThrough == 0 {
		t.Fatalf("compaction = %+v, %v", st, err)
	}
	first, err := alice.Pull(ctx, 0, 2)
	if err != nil || first.CompactedThrough != st.CompactedThrough {
		t.Fatalf("first page of a full pull = %+v, %v; want the mark %d", first, err, st.CompactedThrough)
	}
	got := map[string]bool{}
	for _, r := range first.Records {
		got[r.ID] = true
	}
	cursor, pages := first.Cursor, 1
	for {
		p, err := alice.PullFull(ctx, cursor, first.CompactedThrough, 2)
		if err != nil {
			t.Fatalf("full pull page %d from cursor %d (mark %d): %v", pages+1, cursor, st.CompactedThrough, err)
		}
		pages++
		for _, r := range p.Records {
			got[r.ID] = true
		}
		if !p.More {
			break
		}
		if p.Cursor < st.CompactedThrough {
			// The same cursor outside a full pull is too old.
			var se *servertest.StatusError
			if _, err := alice.Pull(ctx, p.Cursor, 2); !errors.As(err, &se) || se.Code != protocol.CodeCursorTooOld {
				t.Errorf("an ordinary pull from cursor %d below the mark %d: %v, want cursor_too_old", p.Cursor, st.CompactedThrough, err)
			}
		}
		cursor = p.Cursor
	}
	if pages < 3 {
		t.Fatalf("the full pull took %d page(s); the test needs pages below the mark", pages)
	}
	for _, id := range live {
		if !got[id] {
			t.Errorf("the full pull missed note %s", id)
		}
	}
	if got[doomed.ID] {
		t.Errorf("the full pull showed the compacted tombstone")
	}

	// A second full pull shows a note on its first page; the note is then
	// deleted and the deletion compacted before the pull gets there.
	again, err := alice.Pull(ctx, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	shown := again.Records[len(again.Records)-1]
	if shown.Collection != "note" {
		t.Fatalf("the first page ends with a %s; the test needs a note", shown.Collection)
	}
	expect(t, alice.PushOne(t, servertest.Delete(&shown)), model.ResultApplied, "")
	clk.Add(48 * time.Hour)
	if st2, err := srv.Compact(ctx, clk.Now()); err != nil || st2.CompactedThrough <= again.CompactedThrough {
		t.Fatalf("second compaction = %+v, %v; want the mark raised", st2, err)
	}
	var se *servertest.StatusError
	if _, err := alice.PullFull(ctx, again.Cursor, again.CompactedThrough, 2); !errors.As(err, &se) || se.Code != protocol.CodeCursorTooOld {
		t.Errorf("a full pull whose mark moved: %v, want cursor_too_old", err)
	}
	err = alice.Call(ctx, "GET", protocol.PathPull+"?cursor=0&mark=soon", nil, nil)
	if !errors.As(err, &se) || se.Status != 400 || se.Code != protocol.CodeBadRequest {
		t.Errorf("mark=soon: %v, want 400 bad_request", err)
	}
}

// compacting starts a server on a clock the test moves, keeping one day of
// history, with alice as a member.
func compacting(t *testing.T) (*servertest.Server, *clock, *servertest.Client) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk), func(o *server.Options) { o.Retention = 24 * time.Hour })
	return srv, clk, srv.NewUser(t, "alice", server.RoleMember)
}

// TestRestoreWithStaleBaseAfterCompaction: a restore (a create based on a
// version) whose base is older than the tombstone — an undo of a delete
// on a device that missed later changes — arrives after compaction removed
// the tombstone. The record must come back after every version it had
// (the audit log's count), not at base+1, or devices holding the tombstone
// take it for older news and never show it (sim seed 124).
func TestRestoreWithStaleBaseAfterCompaction(t *testing.T) {
	ctx := context.Background()
	srv, clk, alice := compacting(t)
	m := alice.CreateMatter(t, "Restored late")
	note := alice.CreateNote(t, m.ID, "Deleted by cascade, then undone")
	v2 := alice.PushOne(t, servertest.Update(note, model.Fields{"body": "one"}))
	v3 := alice.PushOne(t, servertest.Update(v2.Record, model.Fields{"body": "two"}))
	gone := alice.PushOne(t, servertest.Delete(v3.Record))
	expect(t, gone, model.ResultApplied, "")
	if gone.Record.Version != 4 {
		t.Fatalf("the tombstone is at version %d, want 4", gone.Record.Version)
	}
	clk.Add(48 * time.Hour)
	if st, err := srv.Compact(ctx, clk.Now()); err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the tombstone gone", st, err)
	}
	restore := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Deleted by cascade, then undone"})
	restore.RecordID, restore.BaseVersion = note.ID, v2.Record.Version // stale: the device saw version 2
	got := alice.PushOne(t, restore)
	expect(t, got, model.ResultApplied, "")
	if got.Record.Version != gone.Record.Version+1 || got.Record.Deleted {
		t.Fatalf("restored at version %d (deleted %v), want %d: after every version it had", got.Record.Version, got.Record.Deleted, gone.Record.Version+1)
	}
}
