package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/server/store"
)

func testMembers(t *testing.T, st store.Store) {
	m := model.NewID()
	var first, again bool
	write(t, st, func(tx store.Tx) (err error) {
		for _, u := range []string{"bob", "alice"} {
			if err := addUser(t, tx, u); err != nil {
				return err
			}
		}
		if first, err = tx.AddMember(ctx, "bob", m); err != nil {
			return err
		}
		if again, err = tx.AddMember(ctx, "bob", m); err != nil {
			return err
		}
		_, err = tx.AddMember(ctx, "alice", m)
		return err
	})
	if !first || again {
		t.Fatalf("AddMember = %v then %v, want true then false", first, again)
	}
	var members, bobs []string
	var isBob, isCarol bool
	if err := st.Read(ctx, func(r store.Reader) (err error) {
		if members, err = r.Members(ctx, m); err != nil {
			return err
		}
		if bobs, err = r.MattersOf(ctx, "bob"); err != nil {
			return err
		}
		if isBob, err = r.IsMember(ctx, "bob", m); err != nil {
			return err
		}
		isCarol, err = r.IsMember(ctx, "carol", m)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []string{"alice", "bob"}) || !isBob || isCarol {
		t.Fatalf("members %v, bob %v, carol %v", members, isBob, isCarol)
	}
	if !slices.Equal(bobs, []string{m}) {
		t.Fatalf("bob's matters = %v, want [%s]", bobs, m)
	}
	var removed, removedAgain bool
	write(t, st, func(tx store.Tx) (err error) {
		if removed, err = tx.RemoveMember(ctx, "bob", m); err != nil {
			return err
		}
		removedAgain, err = tx.RemoveMember(ctx, "bob", m)
		return err
	})
	if !removed || removedAgain {
		t.Fatalf("RemoveMember = %v then %v, want true then false", removed, removedAgain)
	}
}

// access grants or revokes at the next seq, as the server does.
func access(t *testing.T, st store.Store, user, matter, kind string) int64 {
	t.Helper()
	var seq int64
	write(t, st, func(tx store.Tx) (err error) {
		if kind == store.AccessGrant {
			_, err = tx.AddMember(ctx, user, matter)
		} else {
			_, err = tx.RemoveMember(ctx, user, matter)
		}
		if err != nil {
			return err
		}
		if seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.AddAccessEvent(ctx, store.AccessEvent{Seq: seq, User: user, MatterID: matter, Kind: kind, At: t0})
	})
	return seq
}

func dropped(t *testing.T, st store.Store, q store.ChangeQuery) []string {
	t.Helper()
	var out []string
	if err := st.Read(ctx, func(r store.Reader) (err error) { out, err = r.DroppedMatters(ctx, q); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

func testDroppedMatters(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error { return addUser(t, tx, "bob") })
	access(t, st, "bob", a, store.AccessGrant)             // 1
	access(t, st, "bob", b, store.AccessGrant)             // 2
	revokeA := access(t, st, "bob", a, store.AccessRevoke) // 3
	access(t, st, "bob", b, store.AccessRevoke)            // 4
	regrantB := access(t, st, "bob", b, store.AccessGrant) // 5
	if got := dropped(t, st, store.ChangeQuery{User: "bob", After: 2, UpTo: regrantB}); !slices.Equal(got, []string{a}) {
		t.Fatalf("dropped after 2 = %v, want only %s (b was granted again)", got, a)
	}
	if got := dropped(t, st, store.ChangeQuery{User: "bob", After: revokeA, UpTo: regrantB}); len(got) != 0 {
		t.Fatalf("dropped after the revoke = %v, want none", got)
	}
	if got := dropped(t, st, store.ChangeQuery{User: "bob", After: 0, UpTo: revokeA - 1}); len(got) != 0 {
		t.Fatalf("dropped before the revoke = %v, want none", got)
	}
	if got := dropped(t, st, store.ChangeQuery{User: "bob", All: true, UpTo: regrantB}); len(got) != 0 {
		t.Fatalf("an admin's dropped matters = %v, want none", got)
	}
}

// move puts a record in another matter at the next seq, as the server does.
func move(t *testing.T, st store.Store, rec *store.Record, to string) {
	t.Helper()
	from := rec.MatterID
	write(t, st, func(tx store.Tx) (err error) {
		rec.MatterID, rec.Version = to, rec.Version+1
		if rec.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		if err := tx.PutRecord(ctx, *rec); err != nil {
			return err
		}
		return tx.AddMove(ctx, store.Move{Seq: rec.Seq, RecordID: rec.ID, FromMatter: from, ToMatter: to, At: t0})
	})
}

func removals(t *testing.T, st store.Store, user string, after int64) []store.Removal {
	t.Helper()
	var out []store.Removal
	if err := st.Read(ctx, func(r store.Reader) error {
		h, err := r.Head(ctx)
		if err != nil {
			return err
		}
		out, err = r.Removals(ctx, store.ChangeQuery{User: user, After: after, UpTo: h.Seq})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func testRemovals(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error {
		for _, u := range []string{"alice", "bob", "carol"} {
			if err := addUser(t, tx, u); err != nil {
				return err
			}
		}
		for _, u := range []string{"alice", "bob"} {
			if _, err := tx.AddMember(ctx, u, a); err != nil {
				return err
			}
		}
		_, err := tx.AddMember(ctx, "alice", b)
		return err
	})
	rec := putRecord(t, st, "note", a, model.Fields{"title": "x"})
	held := rec.Seq
	move(t, st, &rec, b)
	if got := removals(t, st, "bob", held); len(got) != 1 || got[0] != (store.Removal{ID: rec.ID, MatterID: a}) {
		t.Fatalf("bob's removals = %+v, want %s from %s", got, rec.ID, a)
	}
	if got := removals(t, st, "alice", held); len(got) != 0 {
		t.Fatalf("alice sees both matters, yet removals = %+v", got)
	}
	if got := removals(t, st, "bob", rec.Seq); len(got) != 0 {
		t.Fatalf("removals after the move = %+v", got)
	}
	// A new client holds what its own pushes' answers showed: bob saw
	// the record before it moved, so it is named from cursor 0 too.
	if got := removals(t, st, "bob", 0); len(got) != 1 || got[0].ID != rec.ID {
		t.Fatalf("removals from cursor 0 = %+v, want %s", got, rec.ID)
	}
	// carol is granted the matter only after the record left it: she never
	// saw it, so its id must not reach her.
	access(t, st, "carol", a, store.AccessGrant)
	if got := removals(t, st, "carol", held); len(got) != 0 {
		t.Fatalf("carol, granted after the move, gets removals %+v", got)
	}
	// Moved on again, out of a and b: bob's answer names a, where he held it.
	c := model.NewID()
	move(t, st, &rec, c)
	if got := removals(t, st, "bob", held); len(got) != 1 || got[0].MatterID != a {
		t.Fatalf("after a second move bob's removals = %+v", got)
	}
}

func testRemovalHistory(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error { return addUser(t, tx, "dave") })
	access(t, st, "dave", a, store.AccessGrant)
	rec := putRecord(t, st, "note", a, model.Fields{"title": "x"})
	held := rec.Seq
	// dave loses a, the record leaves a, dave gets a back: his client,
	// which held the record, must be told to drop it (the re-grant cancels
	// the dropped matter).
	revoked := access(t, st, "dave", a, store.AccessRevoke)
	move(t, st, &rec, b)
	access(t, st, "dave", a, store.AccessGrant)
	if got := removals(t, st, "dave", held); len(got) != 1 || got[0].ID != rec.ID {
		t.Fatalf("dave, who held the record, gets removals %+v", got)
	}
	// A client that pulled the revoke already dropped the matter.
	if got := removals(t, st, "dave", revoked); len(got) != 0 {
		t.Fatalf("dave, past the revoke, gets removals %+v", got)
	}
}

// testRemovalsOnlyHeld checks that removals name only records the client
// may hold: ones the user could see at the cursor or at some moment after
// it (a device keeps what its own push's answer shows), never a record
// created in a matter after the user lost it, which would reveal it.
func testRemovalsOnlyHeld(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error { return addUser(t, tx, "erin") })
	access(t, st, "erin", a, store.AccessGrant)
	held := putRecord(t, st, "note", a, model.Fields{"title": "held"})
	cursor := held.Seq
	// Created after the cursor while erin still sees a, then moved away.
	late := putRecord(t, st, "note", a, model.Fields{"title": "late"})
	move(t, st, &late, b)
	access(t, st, "erin", a, store.AccessRevoke)
	// Created in a after erin lost it, then moved away: she never could
	// see it, so its id must not reach her.
	secret := putRecord(t, st, "note", a, model.Fields{"title": "secret"})
	move(t, st, &secret, b)
	move(t, st, &held, b)
	want := []store.Removal{{ID: late.ID, MatterID: a}, {ID: held.ID, MatterID: a}}
	for _, c := range []struct {
		after, upTo int64
		want        []store.Removal
	}{
		{cursor, held.Seq, want},
		// held moved after erin lost a; dropped_matters also covers it, and
		// naming it again is allowed: she could see it before the move.
		{0, held.Seq, want},
		{cursor, late.Seq, want[:1]},
		{cursor, secret.Seq, want[:1]},
		{late.Seq, held.Seq, want[1:]},
		{secret.Seq - 1, held.Seq, nil},
	} {
		var got []store.Removal
		if err := st.Read(ctx, func(r store.Reader) (err error) {
			got, err = r.Removals(ctx, store.ChangeQuery{User: "erin", After: c.after, UpTo: c.upTo})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("erin's removals in (%d, %d] = %+v, want %+v (secret is %s)", c.after, c.upTo, got, c.want, secret.ID)
		}
	}
}

func testAuditChain(t *testing.T, st store.Store) {
	var rows []*store.AuditEntry
	for i, action := range []string{"login", "create", "grant"} {
		e := &store.AuditEntry{Seq: int64(i), At: t0.Add(time.Duration(i) * time.Second), Actor: "alice", Device: "laptop",
			Action: action, Target: "x", Before: "b", After: "a"}
		write(t, st, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
		rows = append(rows, e)
	}
	var got []store.AuditEntry
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Audit(ctx, 0, 10); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("audit has %d rows, want 3", len(got))
	}
	prev := ""
	for i, e := range got {
		if e != *rows[i] || e.ID != int64(i+1) || e.PrevHash != prev || e.ComputeHash() != e.Hash {
			t.Fatalf("row %d = %+v, appended %+v, prev hash %q", i+1, e, *rows[i], prev)
		}
		prev = e.Hash
	}
	rolled := errors.New("roll back")
	_ = st.Write(ctx, func(tx store.Tx) error {
		if err := tx.AppendAudit(ctx, &store.AuditEntry{At: t0, Action: "lost"}); err != nil {
			return err
		}
		return rolled
	})
	e := &store.AuditEntry{At: t0, Action: "after"}
	write(t, st, func(tx store.Tx) error { return tx.AppendAudit(ctx, e) })
	if e.ID != 4 || e.PrevHash != prev {
		t.Fatalf("row after a rolled-back append: id %d prev %q, want 4 and %q", e.ID, e.PrevHash, prev)
	}
}

// testHasAudit: HasAudit finds a row by its action, target, time to the
// microsecond, actor, device and after digest, whether committed or
// appended earlier in the same transaction, and no row that differs in
// any of them.
func testHasAudit(t *testing.T, st store.Store) {
	at := t0.Add(1234567 * time.Nanosecond)
	e := store.AuditEntry{At: at, Actor: "alice", Device: "laptop", Action: "file_uploaded", Target: "attachments/a", After: "sha256:ab size:3"}
	has := func(tx store.Reader, e store.AuditEntry) bool {
		t.Helper()
		ok, err := tx.HasAudit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	write(t, st, func(tx store.Tx) error {
		if has(tx, e) {
			t.Error("a row found in an empty log")
		}
		appended := e
		if err := tx.AppendAudit(ctx, &appended); err != nil {
			return err
		}
		if !has(tx, e) {
			t.Error("a row appended in the transaction not found in it")
		}
		return nil
	})
	if err := st.Read(ctx, func(r store.Reader) error {
		if !has(r, e) {
			t.Error("a committed row not found")
		}
		if same := e; !has(r, func() store.AuditEntry { same.At = at.Truncate(time.Microsecond); return same }()) {
			t.Error("a row not found by its time to the microsecond")
		}
		for _, other := range []func(*store.AuditEntry){
			func(o *store.AuditEntry) { o.At = o.At.Add(time.Microsecond) },
			func(o *store.AuditEntry) { o.Actor = "bob" },
			func(o *store.AuditEntry) { o.Device = "phone" },
			func(o *store.AuditEntry) { o.Action = "create" },
			func(o *store.AuditEntry) { o.Target = "attachments/b" },
			func(o *store.AuditEntry) { o.After = "sha256:ab size:4" },
		} {
			o := e
			other(&o)
			if has(r, o) {
				t.Errorf("a row found for %+v, which differs from the one in the log", o)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func testCompact(t *testing.T, st store.Store) {
	m := model.NewID()
	old := putRecord(t, st, "note", m, model.Fields{"title": "old"})
	write(t, st, func(tx store.Tx) (err error) {
		old.Deleted, old.Version = true, 2
		if old.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, old)
	})
	// An answer stored then, at the tombstone's sequence, and one two days
	// later, after more changes.
	oldOp, newOp := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error {
		return tx.PutLedger(ctx, store.LedgerEntry{OpID: oldOp, User: "a", At: t0, Result: []byte("{}")})
	})
	recent := putRecord(t, st, "note", m, model.Fields{"title": "recent"})
	write(t, st, func(tx store.Tx) (err error) {
		recent.Deleted, recent.Version, recent.UpdatedAt = true, 2, t0.Add(48*time.Hour)
		if recent.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, recent)
	})
	live := putRecord(t, st, "note", m, model.Fields{"title": "live"})
	write(t, st, func(tx store.Tx) error {
		return tx.PutLedger(ctx, store.LedgerEntry{OpID: newOp, User: "a", At: t0.Add(48 * time.Hour), Result: []byte("{}")})
	})
	if h := head(t, st); h.LedgerThrough != 0 {
		t.Fatalf("a store that never compacted has ledger mark %d, want 0", h.LedgerThrough)
	}
	var stats store.CompactStats
	write(t, st, func(tx store.Tx) (err error) { stats, err = tx.Compact(ctx, t0.Add(24*time.Hour)); return err })
	if stats.Tombstones != 1 || stats.LedgerEntries != 1 || stats.CompactedThrough != old.Seq || stats.LedgerThrough != old.Seq+1 {
		t.Fatalf("compact = %+v, want 1 tombstone, 1 ledger entry, through %d, ledger through %d", stats, old.Seq, old.Seq+1)
	}
	if h := head(t, st); h.CompactedThrough != old.Seq || h.LedgerThrough != old.Seq+1 {
		t.Fatalf("head after compaction = %+v", h)
	}
	err := st.Read(ctx, func(r store.Reader) error {
		if _, err := r.Record(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
			return errors.New("the old tombstone survived")
		}
		// Its grave says where it was; a tombstone not compacted, and a
		// live record, have none.
		if g, err := r.Grave(ctx, old.ID); err != nil || g != (store.Grave{ID: old.ID, Collection: "note", MatterID: m, Version: 2}) {
			return fmt.Errorf("the old tombstone's grave = %+v, %v; want note of matter %s at version 2", g, err, m)
		}
		for _, id := range []string{recent.ID, live.ID} {
			if g, err := r.Grave(ctx, id); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s, not compacted, has a grave: %+v, %v", id, g, err)
			}
		}
		for _, id := range []string{recent.ID, live.ID} {
			if _, err := r.Record(ctx, id); err != nil {
				return err
			}
		}
		if _, err := r.Ledger(ctx, oldOp); !errors.Is(err, store.ErrNotFound) {
			return errors.New("the old ledger entry survived")
		}
		e, err := r.Ledger(ctx, newOp)
		if err == nil && e.Seq != live.Seq {
			return fmt.Errorf("the ledger stored the answer at seq %d, want the head then (%d)", e.Seq, live.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read ahead with a push's records, among more ids than one lookup
	// holds, the graves answer the same.
	write(t, st, func(tx store.Tx) error {
		ids := []string{live.ID, recent.ID}
		for range 600 {
			ids = append(ids, model.NewID())
		}
		ids = append(ids, old.ID)
		if err := tx.Preload(ctx, store.Ahead{RecordIDs: ids}); err != nil {
			return err
		}
		if g, err := tx.Grave(ctx, old.ID); err != nil || g != (store.Grave{ID: old.ID, Collection: "note", MatterID: m, Version: 2}) {
			return fmt.Errorf("after a read ahead, the old tombstone's grave = %+v, %v; want note of matter %s at version 2", g, err, m)
		}
		for _, id := range ids[:len(ids)-1] {
			if g, err := tx.Grave(ctx, id); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("after a read ahead, %s has a grave: %+v, %v", id, g, err)
			}
		}
		return nil
	})
	write(t, st, func(tx store.Tx) (err error) { stats, err = tx.Compact(ctx, t0.Add(24*time.Hour)); return err })
	if stats.CompactedThrough != old.Seq || stats.Tombstones != 0 || stats.LedgerThrough != old.Seq+1 {
		t.Fatalf("second compaction = %+v; the marks must never go back", stats)
	}
}

func testHints(t *testing.T, st store.Store) {
	lctx, cancel := context.WithCancel(ctx)
	got := make(chan store.Hint, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Listen(lctx, func(h store.Hint) { got <- h })
	}()
	defer func() { cancel(); <-done }()
	// Listening starts asynchronously: publish until the first hint arrives.
	ready := false
	for i := 0; !ready && i < 200; i++ {
		write(t, st, func(tx store.Tx) error { tx.Notify(store.Hint{Seq: -1}); return nil })
		select {
		case <-got:
			ready = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !ready {
		t.Fatal("no hint reached the listener")
	}
	for len(got) > 0 {
		<-got
	}
	_ = st.Write(ctx, func(tx store.Tx) error {
		tx.Notify(store.Hint{Seq: 100, MatterID: "rolled back"})
		return errors.New("roll back")
	})
	want := store.Hint{Seq: 101, MatterID: model.NewID(), User: "bob"}
	write(t, st, func(tx store.Tx) error { tx.Notify(want); return nil })
	for {
		select {
		case h := <-got:
			if h.Seq == -1 {
				continue // a late copy of a readiness probe
			}
			if h != want {
				t.Fatalf("first hint after a rollback = %+v, want %+v", h, want)
			}
			return
		case <-time.After(30 * time.Second):
			t.Fatal("the committed hint never arrived")
		}
	}
}

func testConcurrentWriters(t *testing.T, st store.Store) {
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	m := model.NewID()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := st.Write(ctx, func(tx store.Tx) error {
					seq, err := tx.NextSeq(ctx)
					if err != nil {
						return err
					}
					rec := store.Record{ID: model.NewID(), Collection: "note", MatterID: m, Version: 1, Seq: seq,
						Fields: model.Fields{"title": "x"}, CreatedAt: t0, UpdatedAt: t0}
					if err := tx.PutRecord(ctx, rec); err != nil {
						return err
					}
					return tx.AppendAudit(ctx, &store.AuditEntry{Seq: seq, At: t0, Actor: "w", Action: "create", Target: rec.ID})
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	if h := head(t, st); h.Seq != writers*each {
		t.Fatalf("head = %d, want %d", h.Seq, writers*each)
	}
	var recs []store.Record
	var audit []store.AuditEntry
	if err := st.Read(ctx, func(r store.Reader) (err error) {
		if recs, err = r.Changes(ctx, store.ChangeQuery{All: true, UpTo: writers * each}); err != nil {
			return err
		}
		audit, err = r.Audit(ctx, 0, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != writers*each || len(audit) != writers*each {
		t.Fatalf("%d records and %d audit rows, want %d each", len(recs), len(audit), writers*each)
	}
	prev := ""
	for i, e := range audit {
		if e.PrevHash != prev || e.ComputeHash() != e.Hash {
			t.Fatalf("audit chain broken at row %d under concurrent writers", i+1)
		}
		prev = e.Hash
	}
}

// testCompactBumpedTombstone: a grant gives an old tombstone a new seq
// (BumpMatter); compacting it raises the mark only to the seq of its
// deletion, so a cursor from after the deletion is still good.
func testCompactBumpedTombstone(t *testing.T, st store.Store) {
	m := model.NewID()
	tomb := putRecord(t, st, "note", m, model.Fields{"title": "deleted long ago"})
	write(t, st, func(tx store.Tx) (err error) {
		tomb.Deleted, tomb.Version = true, 2
		if tomb.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, tomb)
	})
	putRecord(t, st, "note", m, model.Fields{"title": "live"})
	pulled := head(t, st).Seq // a device pulls here
	write(t, st, func(tx store.Tx) error { _, _, err := tx.BumpMatter(ctx, m); return err })
	var stats store.CompactStats
	write(t, st, func(tx store.Tx) (err error) { stats, err = tx.Compact(ctx, t0.Add(time.Hour)); return err })
	if stats.Tombstones != 1 || stats.CompactedThrough != tomb.Seq {
		t.Fatalf("compact = %+v; want the tombstone gone and the mark at its deletion (%d)", stats, tomb.Seq)
	}
	if h := head(t, st); h.CompactedThrough > pulled {
		t.Fatalf("the mark %d passed the cursor %d of a device that pulled after the deletion", h.CompactedThrough, pulled)
	}
}

// testWriteTiming: a store that times its writes (store.WriteTimer)
// reports each committed write once and none that failed, and counts the
// time a write waits for the write lock as waiting, the time it then
// keeps it until its commit has ended as holding.
func testWriteTiming(t *testing.T, st store.Store) {
	wt, ok := st.(store.WriteTimer)
	if !ok {
		t.Skip("the store does not time its writes")
	}
	var mu sync.Mutex
	var got []store.WriteTiming
	wt.TimeWrites(func(w store.WriteTiming) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, w)
	})
	take := func() []store.WriteTiming {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	nextSeq := func(tx store.Tx) error {
		_, err := tx.NextSeq(ctx)
		return err
	}

	write(t, st, nextSeq)
	if g := take(); len(g) != 1 || g[0].Wait < 0 || g[0].Held <= 0 {
		t.Fatalf("one write reported %+v, want one timing", g)
	}
	refused := errors.New("refused")
	if err := st.Write(ctx, func(tx store.Tx) error {
		if err := nextSeq(tx); err != nil {
			return err
		}
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("failing write: %v", err)
	}
	if g := take(); len(g) != 0 {
		t.Fatalf("a failed write reported %+v", g)
	}

	// A takes the lock (with PostgreSQL, its first statement does) and
	// keeps it for hold; B, asked for meanwhile, cannot begin before A's
	// commit, which comes after A's fn returned.
	const hold = 100 * time.Millisecond
	locked := make(chan struct{})
	var aReturned time.Time
	aDone := make(chan error, 1)
	go func() {
		aDone <- st.Write(ctx, func(tx store.Tx) error {
			if err := nextSeq(tx); err != nil {
				return err
			}
			close(locked)
			time.Sleep(hold)
			aReturned = time.Now()
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-aDone:
		t.Fatalf("write A: %v", err)
	}
	bAsked := time.Now()
	if err := st.Write(ctx, nextSeq); err != nil {
		t.Fatalf("write B: %v", err)
	}
	if err := <-aDone; err != nil {
		t.Fatalf("write A: %v", err)
	}
	waited := aReturned.Sub(bAsked) // B waited at least this long
	g := take()
	if len(g) != 2 {
		t.Fatalf("two writes reported %+v", g)
	}
	a, b := g[0], g[1]
	if a.Held < hold {
		a, b = b, a
	}
	if a.Held < hold {
		t.Errorf("A held the lock for %v at least; reported %+v", hold, g)
	}
	if b.Wait < waited {
		t.Errorf("B waited for A's lock for %v at least; reported %+v", waited, g)
	}
}
