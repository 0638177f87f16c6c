package storetest

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"pgregory.net/rapid"

	"casefile/model"
	"casefile/server/store"
)

// testPushPattern draws write transactions the way a push writes them —
// Preload of op ids and records (to come, known, never used), then for
// each op a read of its op id in the ledger and of its record, both
// absent, and its seq, record, audit row and ledger entry — mixed with
// savepoints that fail or stand (nested), repeated op ids, reads of the
// ledger, the records and the audit log in the middle of a transaction,
// and transactions that fail whole. A store may read ahead or hold rows
// back until commit (sqlstore does both); whatever it does, every read in
// and after the transaction must show exactly the rows that stand, with
// the seqs they were written at, an unbroken audit chain, ErrDuplicate for
// an op id written twice, and nothing of what was rolled back. Members of
// the matter are added and removed among the ops, and preloaded
// (PreloadMembers) before and after: IsMember must answer what stands.
func testPushPattern(t *testing.T, st store.Store) {
	m := model.NewID()
	write(t, st, func(tx store.Tx) error {
		for _, u := range patternUsers {
			if err := addUser(t, tx, u); err != nil {
				return err
			}
		}
		return nil
	})
	var ledger []store.LedgerEntry // committed, in order
	var audit []string             // committed audit targets, in order
	members := map[string]bool{}   // committed: user → member of m
	rapid.Check(t, func(rt *rapid.T) {
		w := &patternTx{rt: rt, ledger: ledger, audit: audit, matter: m, members: maps.Clone(members)}
		for range 8 {
			w.pool = append(w.pool, model.NewID())
		}
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
			ledger, audit, members = w.ledger, w.audit, w.members
		}
		if err := st.Read(ctx, func(r store.Reader) error {
			checkPattern(rt, r, ledger, audit)
			checkMembers(rt, r, m, members)
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
	pool   []string // the op ids (and record ids) of the ops to come
	lost   []string // op ids written in what was rolled back
	// members says which of patternUsers are members of matter.
	members map[string]bool
}

var patternUsers = []string{"ann", "bob", "cy"}

// checkMembers checks IsMember against the model.
func checkMembers(rt *rapid.T, r store.Reader, matter string, members map[string]bool) {
	for _, u := range patternUsers {
		is, err := r.IsMember(ctx, u, matter)
		if err != nil || is != members[u] {
			rt.Fatalf("is %s a member: %v, %v; want %v", u, is, err, members[u])
		}
	}
}

func (w *patternTx) steps(tx store.Tx, depth int) {
	n := rapid.IntRange(0, 6).Draw(w.rt, "steps")
	for range n {
		step := rapid.IntRange(0, 13).Draw(w.rt, "step")
		if step > 10 {
			step -= 3 // memberships twice as often: changed, preloaded, checked
		}
		switch step {
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
		case 6:
			w.preload(tx)
		case 7:
			w.checkLost(tx)
		case 8:
			u := rapid.SampledFrom(patternUsers).Draw(w.rt, "member")
			var changed bool
			var err error
			if w.members[u] {
				changed, err = tx.RemoveMember(ctx, u, w.matter)
			} else {
				changed, err = tx.AddMember(ctx, u, w.matter)
			}
			if err != nil || !changed {
				w.rt.Fatalf("membership of %s (was %v) not changed: %v", u, w.members[u], err)
			}
			w.members[u] = !w.members[u]
			if rapid.Bool().Draw(w.rt, "readBack") {
				// A later op of the push preloads what this one changed.
				if err := tx.PreloadMembers(ctx, []string{u}, []string{w.matter}); err != nil {
					w.rt.Fatal(err)
				}
			}
		case 9:
			us := rapid.SliceOfN(rapid.SampledFrom(patternUsers), 0, 4).Draw(w.rt, "preloadMembers")
			ms := make([]string, len(us))
			for i := range ms {
				ms[i] = w.matter
			}
			if err := tx.PreloadMembers(ctx, us, ms); err != nil {
				w.rt.Fatal(err)
			}
		case 10:
			checkMembers(w.rt, tx, w.matter, w.members)
		}
	}
}

// checkLost checks that nothing rolled back is read.
func (w *patternTx) checkLost(tx store.Tx) {
	for _, id := range w.lost {
		if _, err := tx.Ledger(ctx, id); !errors.Is(err, store.ErrNotFound) {
			w.rt.Fatalf("ledger of rolled-back op %s: %v, want ErrNotFound", id, err)
		}
		if _, err := tx.Record(ctx, id); !errors.Is(err, store.ErrNotFound) {
			w.rt.Fatalf("record of rolled-back op %s: %v, want ErrNotFound", id, err)
		}
	}
}

// preload announces some of the op ids to come, some written, some lost
// and some never used, as op ids and as records.
func (w *patternTx) preload(tx store.Tx) {
	var ids []string
	pick := func(from []string, label string) {
		if len(from) > 0 {
			k := rapid.IntRange(0, len(from)).Draw(w.rt, label)
			ids = append(ids, from[:k]...)
		}
	}
	pick(w.pool, "toCome")
	pick(w.lost, "lost")
	// The latest written, which the store may still hold back.
	for _, e := range w.ledger[max(0, len(w.ledger)-6):] {
		if rapid.Bool().Draw(w.rt, "known") {
			ids = append(ids, e.OpID)
		}
	}
	ids = append(ids, model.NewID())
	a := store.Ahead{OpIDs: ids, RecordIDs: ids}
	for _, u := range patternUsers {
		if rapid.Bool().Draw(w.rt, "preloadMember") {
			a.Users, a.Matters = append(a.Users, u), append(a.Matters, w.matter)
		}
	}
	if err := tx.Preload(ctx, a); err != nil {
		w.rt.Fatal(err)
	}
}

// op writes what an applied op writes, after reading its op id and its
// record as absent.
func (w *patternTx) op(tx store.Tx) {
	id := model.NewID()
	if len(w.pool) > 0 {
		id, w.pool = w.pool[0], w.pool[1:]
	}
	if _, err := tx.Ledger(ctx, id); !errors.Is(err, store.ErrNotFound) {
		w.rt.Fatalf("ledger of a new op id: %v, want ErrNotFound", err)
	}
	if _, err := tx.Record(ctx, id); !errors.Is(err, store.ErrNotFound) {
		w.rt.Fatalf("a new record: %v, want ErrNotFound", err)
	}
	seq, err := tx.NextSeq(ctx)
	if err != nil {
		w.rt.Fatal(err)
	}
	w.head = seq
	rec := store.Record{ID: id, Collection: "note", MatterID: w.matter, Version: 1, Seq: seq,
		Fields: model.Fields{"title": "x"}, FieldVersions: map[string]int64{"title": 1}, CreatedAt: t0, UpdatedAt: t0}
	if err := tx.PutRecord(ctx, rec); err != nil {
		w.rt.Fatal(err)
	}
	if got, err := tx.Record(ctx, id); err != nil || got.Seq != seq {
		w.rt.Fatalf("record just written: %+v, %v", got, err)
	}
	if rapid.Bool().Draw(w.rt, "countMatter") {
		// SQL over the records table, as a matter's deletion asks: what a
		// store holds back must be there for it.
		n, err := tx.MatterHolds(ctx, w.matter)
		if err != nil || n["note"] != int64(len(w.ledger)+1) {
			w.rt.Fatalf("the matter holds %v, %v; want %d notes", n, err, len(w.ledger)+1)
		}
		if rapid.Bool().Draw(w.rt, "readBackRecord") {
			if err := tx.Preload(ctx, store.Ahead{RecordIDs: []string{id}}); err != nil {
				w.rt.Fatal(err)
			}
		}
	}
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
	savedMembers := maps.Clone(w.members)
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
		for _, e := range w.ledger[len(saved.ledger):] {
			w.lost = append(w.lost, e.OpID)
		}
		w.ledger, w.audit, w.head, w.members = saved.ledger, saved.audit, saved.head, savedMembers
		// What the savepoint wrote is gone: its op ids are new again, and
		// its memberships are as they were.
		if h := headIn(w.rt, tx); h.Seq != w.head {
			w.rt.Fatalf("head after a failed savepoint = %d, want %d", h.Seq, w.head)
		}
		checkMembers(w.rt, tx, w.matter, w.members)
		w.checkLost(tx)
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

// checkPattern reads the whole audit log and every ledger entry through r
// (in that order: a store that holds rows back sends them for the first)
// and compares them with what stands.
func checkPattern(rt *rapid.T, r store.Reader, ledger []store.LedgerEntry, audit []string) {
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
	for _, e := range ledger {
		got, err := r.Ledger(ctx, e.OpID)
		if err != nil || !sameLedger(got, e) {
			rt.Fatalf("ledger of %s = %+v, %v; want %+v", e.OpID, got, err, e)
		}
	}
}

// testChangesPages draws records over matters a user partly sees — dense
// runs and sparse ones — and pages through them with drawn cursors, bounds
// and limits: every page is the visible records of the range in sequence
// order, up to the limit, whichever way the store plans it.
func testChangesPages(t *testing.T, st store.Store) {
	matters := []string{model.NewID(), model.NewID(), model.NewID(), model.NewID()}
	write(t, st, func(tx store.Tx) error {
		if err := addUser(t, tx, "alice"); err != nil {
			return err
		}
		for _, m := range matters[:2] {
			if _, err := tx.AddMember(ctx, "alice", m); err != nil {
				return err
			}
		}
		return nil
	})
	type row struct {
		seq     int64
		id      string
		visible bool
	}
	var rows []row
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 60).Draw(rt, "records")
		dense := rapid.IntRange(0, len(matters)-1).Draw(rt, "dense")
		// Drawn before the transaction: a draw may stop the test, which
		// must not leave a transaction open.
		in := make([]string, n)
		for i := range in {
			in[i] = matters[dense]
			if rapid.IntRange(0, 3).Draw(rt, "elsewhere") == 0 {
				in[i] = matters[rapid.IntRange(0, len(matters)-1).Draw(rt, "matter")]
			}
		}
		write(t, st, func(tx store.Tx) error {
			for _, m := range in {
				rec, err := change(tx, m)
				if err != nil {
					return err
				}
				rows = append(rows, row{rec.Seq, rec.ID, m == matters[0] || m == matters[1]})
			}
			return nil
		})
		top := head(t, st).Seq
		for range 20 {
			q := store.ChangeQuery{User: "alice", Limit: rapid.IntRange(1, 4).Draw(rt, "limit")}
			q.After = rapid.Int64Range(0, top).Draw(rt, "after")
			q.UpTo = top
			if rapid.Bool().Draw(rt, "bounded") {
				q.UpTo = rapid.Int64Range(q.After, top).Draw(rt, "upTo")
			}
			var want []string
			for _, r := range rows {
				if r.visible && r.seq > q.After && r.seq <= q.UpTo && len(want) < q.Limit {
					want = append(want, r.id)
				}
			}
			var got []store.Record
			if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Changes(ctx, q); return err }); err != nil {
				rt.Fatal(err)
			}
			ids := []string{}
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(append([]string{}, want...)) {
				rt.Fatalf("changes %+v = %v, want %v", q, ids, want)
			}
		}
	})
}
