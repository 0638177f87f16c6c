package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"casefile/model"
	"casefile/server/store"
)

// change writes a new record of a matter at the next seq, with its audit
// row and hint, as an applied op does.
func change(tx store.Tx, matter string) (store.Record, error) {
	seq, err := tx.NextSeq(ctx)
	if err != nil {
		return store.Record{}, err
	}
	rec := store.Record{ID: model.NewID(), Collection: "note", MatterID: matter, Version: 1, Seq: seq,
		Fields: model.Fields{"title": "x"}, FieldVersions: map[string]int64{"title": 1}, CreatedAt: t0, UpdatedAt: t0}
	if err := tx.PutRecord(ctx, rec); err != nil {
		return rec, err
	}
	if err := tx.AppendAudit(ctx, &store.AuditEntry{Seq: seq, At: t0, Actor: "alice", Action: "create", Target: rec.ID}); err != nil {
		return rec, err
	}
	tx.Notify(store.Hint{Seq: seq, MatterID: matter})
	return rec, tx.PutLedger(ctx, store.LedgerEntry{OpID: rec.ID, User: "alice", At: t0, Result: []byte(`{}`)})
}

// testSavepoint checks that a failed savepoint undoes exactly its own
// writes, sequences, audit rows and hints, and that the transaction goes
// on and commits the rest. The second failure is a real database error
// (a duplicate key), after which PostgreSQL refuses every statement until
// the savepoint is rolled back to.
func testSavepoint(t *testing.T, st store.Store) {
	hints := listen(t, st)
	m := model.NewID()
	boom := errors.New("boom")
	var kept, lost []store.Record
	write(t, st, func(tx store.Tx) error {
		for i := range 5 {
			var rec store.Record
			err := tx.Savepoint(ctx, func(tx store.Tx) (err error) {
				if rec, err = change(tx, m); err != nil {
					return err
				}
				switch i {
				case 1:
					return boom
				case 3:
					// An op id taken earlier in this transaction.
					return tx.PutLedger(ctx, store.LedgerEntry{OpID: kept[0].ID, User: "alice", At: t0, Result: []byte(`{}`)})
				}
				return nil
			})
			switch {
			case i == 1 && !errors.Is(err, boom):
				t.Errorf("savepoint returned %v, want fn's error", err)
			case i == 3 && !errors.Is(err, store.ErrDuplicate):
				t.Errorf("savepoint returned %v, want ErrDuplicate", err)
			case i != 1 && i != 3 && err != nil:
				return err
			}
			if err != nil {
				if errors.Is(err, store.ErrTxLost) {
					return err
				}
				lost = append(lost, rec)
				// The transaction reads and writes normally again.
				if _, err := tx.Record(ctx, rec.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("record of a rolled-back savepoint: %v, want ErrNotFound", err)
				}
				continue
			}
			kept = append(kept, rec)
		}
		return nil
	})
	for i, rec := range kept {
		if rec.Seq != int64(i+1) {
			t.Errorf("kept record %d has seq %d, want %d: a rolled-back savepoint must give its seq back", i, rec.Seq, i+1)
		}
	}
	h := head(t, st)
	if h.Seq != 3 || h.AuditRows != 3 {
		t.Fatalf("head = %+v, want seq 3 and 3 audit rows", h)
	}
	err := st.Read(ctx, func(r store.Reader) error {
		for _, rec := range lost {
			if _, err := r.Record(ctx, rec.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("record of a rolled-back savepoint after commit: %v", err)
			}
			if _, err := r.Ledger(ctx, rec.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ledger of a rolled-back savepoint after commit: %v", err)
			}
		}
		for _, rec := range kept {
			if _, err := r.Record(ctx, rec.ID); err != nil {
				t.Errorf("kept record: %v", err)
			}
		}
		return checkAuditChain(t, r, kept, h)
	})
	if err != nil {
		t.Fatal(err)
	}
	// One hint for the matter, with the last kept seq.
	if got := nextHint(t, hints); got != (store.Hint{Seq: 3, MatterID: m}) {
		t.Fatalf("hint = %+v, want seq 3 of the matter", got)
	}
}

// testSavepointNested checks savepoints inside savepoints: an inner one
// rolls back alone, an outer one takes its inner ones with it.
func testSavepointNested(t *testing.T, st store.Store) {
	boom := errors.New("boom")
	m := model.NewID()
	write(t, st, func(tx store.Tx) error {
		err := tx.Savepoint(ctx, func(tx store.Tx) error {
			if _, err := change(tx, m); err != nil {
				return err
			}
			if err := tx.Savepoint(ctx, func(tx store.Tx) error {
				if _, err := change(tx, m); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Errorf("inner savepoint returned %v", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Savepoint(ctx, func(tx store.Tx) error {
			if err := tx.Savepoint(ctx, func(tx store.Tx) error { _, err := change(tx, m); return err }); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("outer savepoint returned %v", err)
		}
		return nil
	})
	if h := head(t, st); h.Seq != 1 || h.AuditRows != 1 {
		t.Fatalf("head = %+v, want only the first change (seq 1, 1 audit row)", h)
	}
}

// testHintsCoalesce checks that a transaction's hints reach listeners
// once per matter and user, with the highest seq, in seq order, naming
// the client that pushed them only when one client pushed them all.
func testHintsCoalesce(t *testing.T, st store.Store) {
	hints := listen(t, st)
	a, b, c := model.NewID(), model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error {
		for _, h := range []store.Hint{{Seq: 5, MatterID: a, Origin: "c1"}, {Seq: 6, MatterID: b, Origin: "c1"}, {Seq: 7, MatterID: a, Origin: "c2"},
			{Seq: 8, MatterID: a, User: "bob"}, {Seq: 4, MatterID: b, Origin: "c1"}, {Seq: 9, MatterID: c, Origin: "c2"}, {Seq: 10, MatterID: c}} {
			tx.Notify(h)
		}
		return nil
	})
	for _, want := range []store.Hint{{Seq: 6, MatterID: b, Origin: "c1"}, {Seq: 7, MatterID: a}, {Seq: 8, MatterID: a, User: "bob"}, {Seq: 10, MatterID: c}} {
		if got := nextHint(t, hints); got != want {
			t.Fatalf("hint = %+v, want %+v", got, want)
		}
	}
}

// listen returns the hints committed from now on, skipping readiness
// probes (seq -1); listening stops when the test ends.
func listen(t *testing.T, st store.Store) <-chan store.Hint {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	got := make(chan store.Hint, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Listen(lctx, func(h store.Hint) { got <- h })
	}()
	t.Cleanup(func() { cancel(); <-done })
	// Listening starts asynchronously: publish until the first hint arrives.
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("no hint reached the listener")
		}
		write(t, st, func(tx store.Tx) error { tx.Notify(store.Hint{Seq: -1}); return nil })
		select {
		case <-got:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	out := make(chan store.Hint, 100)
	go func() {
		defer close(out)
		for {
			select {
			case h := <-got:
				if h.Seq != -1 {
					out <- h
				}
			case <-lctx.Done():
				return
			}
		}
	}()
	return out
}

func nextHint(t *testing.T, ch <-chan store.Hint) store.Hint {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("no hint arrived")
		return store.Hint{}
	}
}

// testHeadInTransaction checks the head a write transaction sees while
// its ops advance the sequence and the audit chain, around statements
// that move the head themselves (BumpMatter) and a savepoint that rolls
// such a statement back: every step sees the head its predecessors left,
// and the commit keeps exactly the steps that stood.
func testHeadInTransaction(t *testing.T, st store.Store) {
	m := model.NewID()
	boom := errors.New("boom")
	var kept []store.Record
	write(t, st, func(tx store.Tx) error {
		want := func(seq, rows int64) {
			t.Helper()
			h, err := tx.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if h.Seq != seq || h.AuditRows != rows {
				t.Fatalf("head in the transaction = seq %d, %d audit rows; want %d, %d", h.Seq, h.AuditRows, seq, rows)
			}
		}
		r, err := change(tx, m)
		if err != nil {
			return err
		}
		kept = append(kept, r)
		want(1, 1)
		err = tx.Savepoint(ctx, func(tx store.Tx) error {
			if _, err := change(tx, m); err != nil {
				return err
			}
			if _, _, err := tx.BumpMatter(ctx, m); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("savepoint returned %v", err)
		}
		want(1, 1)
		if r, err = change(tx, m); err != nil {
			return err
		}
		kept = append(kept, r)
		want(2, 2)
		if n, last, err := tx.BumpMatter(ctx, m); err != nil || n != 2 || last != 4 {
			t.Fatalf("bump = %d, %d, %v; want 2 records up to seq 4", n, last, err)
		}
		want(4, 2)
		if r, err = change(tx, m); err != nil {
			return err
		}
		kept = append(kept, r)
		want(5, 3)
		return nil
	})
	h := head(t, st)
	if h.Seq != 5 || h.AuditRows != 3 {
		t.Fatalf("head after commit = %+v, want seq 5 and 3 audit rows", h)
	}
	err := st.Read(ctx, func(r store.Reader) error {
		for i, want := range []int64{1, 2, 5} {
			e, err := r.Ledger(ctx, kept[i].ID)
			if err != nil {
				return err
			}
			if e.Seq != want {
				t.Errorf("ledger row %d at seq %d, want %d", i, e.Seq, want)
			}
		}
		return checkAuditChain(t, r, kept, h)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkAuditChain checks that the audit rows are one hash chain, a row
// for each kept record in order and none for a rolled-back one, ending at
// the head's audit hash.
func checkAuditChain(t *testing.T, r store.Reader, kept []store.Record, h store.Head) error {
	t.Helper()
	audit, err := r.Audit(ctx, 0, 10)
	if err != nil {
		return err
	}
	prev := ""
	for i, e := range audit {
		if i >= len(kept) || e.ID != int64(i+1) || e.PrevHash != prev || e.ComputeHash() != e.Hash || e.Target != kept[i].ID {
			t.Errorf("audit row %d = %+v: the chain must skip rolled-back rows", i+1, e)
		}
		prev = e.Hash
	}
	if len(audit) != len(kept) || prev != h.AuditHash {
		t.Errorf("audit has %d rows ending %q, want %d; head says %q", len(audit), prev, len(kept), h.AuditHash)
	}
	return nil
}
