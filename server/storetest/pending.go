package storetest

import (
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"casefile/model"
	"casefile/server/store"
)

// testPushPattern draws write transactions the way a push writes them —
// each op reads its op id in the ledger, finds it absent, then writes its
// seq, audit row and ledger entry — mixed with savepoints that fail or
// stand (nested), repeated op ids, reads of the ledger and of the audit
// log in the middle of a transaction, and transactions that fail whole.
// A store may hold such rows back until commit (sqlstore does); whatever
// it does, every read in and after the transaction must show exactly the
// rows that stand, with the seqs they were written at, an unbroken audit
// chain, and ErrDuplicate for an op id written twice.
func testPushPattern(t *testing.T, st store.Store) {
	m := model.NewID()
	var ledger []store.LedgerEntry // committed, in order
	var audit []string             // committed audit targets, in order
	rapid.Check(t, func(rt *rapid.T) {
		w := &patternTx{rt: rt, ledger: ledger, audit: audit, matter: m}
		failWhole := rapid.Bool().Draw(rt, "failWhole")
		var failed any
		err := st.Write(ctx, func(tx store.Tx) (err error) {
			// A failed check stops the test by panicking; the transaction
			// must still end, or the next one waits for its lock forever.
			defer func() {
				if failed = recover(); failed != nil {
					err = errWhole
				}
			}()
			w.head = headIn(rt, tx).Seq
			w.steps(tx, 0)
			if failWhole {
				return errWhole
			}
			return nil
		})
		if failed != nil {
			panic(failed)
		}
		switch {
		case failWhole && !errors.Is(err, errWhole):
			rt.Fatalf("a transaction that failed whole: %v", err)
		case !failWhole && err != nil:
			rt.Fatalf("commit: %v", err)
		case !failWhole:
			ledger, audit = w.ledger, w.audit
		}
		if err := st.Read(ctx, func(r store.Reader) error {
			checkPattern(rt, r, ledger, audit)
			return nil
		}); err != nil {
			rt.Fatal(err)
		}
	})
}

var errWhole = errors.New("the transaction fails whole")

// patternTx is the model of one drawn transaction: what stands so far.
type patternTx struct {
	rt     *rapid.T
	ledger []store.LedgerEntry
	audit  []string
	head   int64
	matter string
}

func (w *patternTx) steps(tx store.Tx, depth int) {
	n := rapid.IntRange(0, 6).Draw(w.rt, "steps")
	for range n {
		switch rapid.IntRange(0, 5).Draw(w.rt, "step") {
		case 0, 1:
			w.op(tx)
		case 2:
			// A later op of the push with an op id already written.
			if len(w.ledger) == 0 {
				continue
			}
			e := w.ledger[rapid.IntRange(0, len(w.ledger)-1).Draw(w.rt, "known")]
			got, err := tx.Ledger(ctx, e.OpID)
			if err != nil || !sameLedger(got, e) {
				w.rt.Fatalf("ledger of %s in the transaction = %+v, %v; want %+v", e.OpID, got, err, e)
			}
		case 3:
			checkPattern(w.rt, tx, w.ledger, w.audit)
		case 4, 5:
			if depth < 2 {
				w.savepoint(tx, depth)
			}
		}
	}
}

// op writes what an applied op writes, after reading its op id as absent.
func (w *patternTx) op(tx store.Tx) {
	id := model.NewID()
	if _, err := tx.Ledger(ctx, id); !errors.Is(err, store.ErrNotFound) {
		w.rt.Fatalf("ledger of a new op id: %v, want ErrNotFound", err)
	}
	seq, err := tx.NextSeq(ctx)
	if err != nil {
		w.rt.Fatal(err)
	}
	w.head = seq
	if err := tx.AppendAudit(ctx, &store.AuditEntry{Seq: seq, At: t0, Actor: "alice", Action: "create", Target: id}); err != nil {
		w.rt.Fatal(err)
	}
	tx.Notify(store.Hint{Seq: seq, MatterID: w.matter})
	e := store.LedgerEntry{OpID: id, User: "alice", Device: "laptop", At: t0, Result: []byte(fmt.Sprintf(`{"seq":%d}`, seq)), Seq: seq}
	if err := tx.PutLedger(ctx, e); err != nil {
		w.rt.Fatal(err)
	}
	w.ledger = append(w.ledger, e)
	w.audit = append(w.audit, id)
}

// savepoint runs steps in a savepoint that stands or fails; one that
// fails may first write an op id already written, as a faulty op would.
func (w *patternTx) savepoint(tx store.Tx, depth int) {
	fail := rapid.Bool().Draw(w.rt, "fail")
	dup := fail && len(w.ledger) > 0 && rapid.Bool().Draw(w.rt, "dup")
	saved := *w
	boom := errors.New("boom")
	err := tx.Savepoint(ctx, func(tx store.Tx) error {
		w.steps(tx, depth+1)
		if dup {
			e := w.ledger[rapid.IntRange(0, len(w.ledger)-1).Draw(w.rt, "dupOf")]
			err := tx.PutLedger(ctx, e)
			if !errors.Is(err, store.ErrDuplicate) {
				w.rt.Fatalf("an op id written twice: %v, want ErrDuplicate", err)
			}
			return err
		}
		if fail {
			return boom
		}
		return nil
	})
	if errors.Is(err, store.ErrTxLost) || (err != nil && !fail) {
		w.rt.Fatalf("savepoint: %v", err)
	}
	if fail {
		w.ledger, w.audit, w.head = saved.ledger, saved.audit, saved.head
		// What the savepoint wrote is gone: its op ids are new again.
		if h := headIn(w.rt, tx); h.Seq != w.head {
			w.rt.Fatalf("head after a failed savepoint = %d, want %d", h.Seq, w.head)
		}
	}
}

func headIn(rt *rapid.T, r store.Reader) store.Head {
	h, err := r.Head(ctx)
	if err != nil {
		rt.Fatal(err)
	}
	return h
}

func sameLedger(got, want store.LedgerEntry) bool {
	return got.OpID == want.OpID && got.User == want.User && got.Device == want.Device &&
		got.At.Equal(want.At) && string(got.Result) == string(want.Result) && got.Seq == want.Seq
}

// checkPattern reads every ledger entry and the whole audit log through r
// and compares them with what stands.
func checkPattern(rt *rapid.T, r store.Reader, ledger []store.LedgerEntry, audit []string) {
	for _, e := range ledger {
		got, err := r.Ledger(ctx, e.OpID)
		if err != nil || !sameLedger(got, e) {
			rt.Fatalf("ledger of %s = %+v, %v; want %+v", e.OpID, got, err, e)
		}
	}
	rows, err := r.Audit(ctx, 0, len(audit)+10)
	if err != nil {
		rt.Fatal(err)
	}
	if len(rows) != len(audit) {
		rt.Fatalf("audit has %d rows, want %d", len(rows), len(audit))
	}
	prev := ""
	for i, e := range rows {
		if e.ID != int64(i+1) || e.Target != audit[i] || e.PrevHash != prev || e.ComputeHash() != e.Hash {
			rt.Fatalf("audit row %d = %+v, want target %s after hash %q", i+1, e, audit[i], prev)
		}
		prev = e.Hash
	}
	if h := headIn(rt, r); h.AuditRows != int64(len(audit)) || h.AuditHash != prev {
		rt.Fatalf("head's audit tail = %d %q, want %d %q", h.AuditRows, h.AuditHash, len(audit), prev)
	}
}
