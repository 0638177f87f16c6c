package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"casefile/model"
	"casefile/server/store"
)

// testPreloadMany: a Preload of more of each kind than one statement's
// largest list, held and not held alike, in an order that puts the held
// ones in different lists, leaves Ledger, Record and IsMember answering
// what stands.
func testPreloadMany(t *testing.T, st store.Store) {
	matter := model.NewID()
	var held []store.Record
	for range 3 {
		held = append(held, putRecord(t, st, "note", matter, model.Fields{model.MatterField: matter, "title": "held"}))
	}
	entries := make([]store.LedgerEntry, 3)
	write(t, st, func(tx store.Tx) error {
		if err := addUser(t, tx, "ann"); err != nil {
			return err
		}
		for i := range entries {
			entries[i] = store.LedgerEntry{OpID: model.NewID(), User: "ann", Device: "laptop", At: t0, Result: []byte(`{"result":"applied"}`)}
			if err := tx.PutLedger(ctx, entries[i]); err != nil {
				return err
			}
		}
		_, err := tx.AddMember(ctx, "ann", matter)
		return err
	})
	for i, e := range entries { // as the store keeps them (with their seq)
		if err := st.Read(ctx, func(r store.Reader) (err error) { entries[i], err = r.Ledger(ctx, e.OpID); return err }); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1200
	var a store.Ahead
	absentRecords, absentOps := make([]string, n), make([]string, n)
	for i := range n {
		absentRecords[i], absentOps[i] = model.NewID(), model.NewID()
		a.RecordIDs, a.OpIDs = append(a.RecordIDs, absentRecords[i]), append(a.OpIDs, absentOps[i])
		a.Users, a.Matters = append(a.Users, "ann"), append(a.Matters, model.NewID())
		if k := i / 500; i%500 == 0 && k < 3 {
			a.RecordIDs, a.OpIDs = append(a.RecordIDs, held[k].ID), append(a.OpIDs, entries[k].OpID)
			a.Users, a.Matters = append(a.Users, []string{"ann", "bob", "ann"}[k]), append(a.Matters, matter)
		}
	}
	write(t, st, func(tx store.Tx) error {
		if err := tx.Preload(ctx, a); err != nil {
			return err
		}
		for k := range 3 {
			if got, err := tx.Record(ctx, held[k].ID); err != nil || !reflect.DeepEqual(got, held[k]) {
				t.Errorf("record %d after a preload: %+v, %v; want %+v", k, got, err, held[k])
			}
			if got, err := tx.Ledger(ctx, entries[k].OpID); err != nil || !reflect.DeepEqual(got, entries[k]) {
				t.Errorf("ledger entry %d after a preload: %+v, %v; want %+v", k, got, err, entries[k])
			}
		}
		for _, i := range []int{0, 1, 511, 512, 513, n - 1} {
			if _, err := tx.Record(ctx, absentRecords[i]); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("absent record %d after a preload: %v, want ErrNotFound", i, err)
			}
			if _, err := tx.Ledger(ctx, absentOps[i]); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("absent op %d after a preload: %v, want ErrNotFound", i, err)
			}
		}
		for _, c := range []struct {
			user, matter string
			want         bool
		}{{"ann", matter, true}, {"bob", matter, false}, {"ann", a.Matters[len(a.Matters)-1], false}} {
			if is, err := tx.IsMember(ctx, c.user, c.matter); err != nil || is != c.want {
				t.Errorf("is %s a member of %s after a preload: %v, %v; want %v", c.user, c.matter, is, err, c.want)
			}
		}
		return nil
	})
}

// testFailedWritesLeaveNothing: write transactions that fail after writing,
// more of them than a pool holds connections, leave nothing behind, not
// even in a later transaction on the same connection.
func testFailedWritesLeaveNothing(t *testing.T, st store.Store) {
	matter := model.NewID()
	boom := errors.New("boom")
	before := head(t, st)
	var ids, ops []string
	for i := range 40 {
		id, op := model.NewID(), model.NewID()
		ids, ops = append(ids, id), append(ops, op)
		err := st.Write(ctx, func(tx store.Tx) error {
			seq, err := tx.NextSeq(ctx)
			if err != nil {
				return err
			}
			rec := store.Record{ID: id, Collection: "note", MatterID: matter, Version: 1, Seq: seq,
				Fields: model.Fields{model.MatterField: matter, "title": "undone"}, CreatedBy: "ann", CreatedAt: t0, UpdatedBy: "ann", UpdatedAt: t0}
			if err := tx.PutRecord(ctx, rec); err != nil {
				return err
			}
			if err := tx.PutLedger(ctx, store.LedgerEntry{OpID: op, User: "ann", Device: "laptop", At: t0, Result: []byte(`{}`)}); err != nil {
				return err
			}
			if i%2 == 1 {
				// Sent before the failure, not held back until commit.
				if _, err := tx.MatterHolds(ctx, matter); err != nil {
					return err
				}
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("write %d returned %v, want fn's error", i, err)
		}
	}
	kept := putRecord(t, st, "note", matter, model.Fields{model.MatterField: matter, "title": "kept"})
	if h := head(t, st); kept.Seq != before.Seq+1 || h.Seq != kept.Seq {
		t.Fatalf("after 40 failed writes from head %d, one that stood took seq %d and left the head at %d; want %d for both",
			before.Seq, kept.Seq, h.Seq, before.Seq+1)
	}
	err := st.Read(ctx, func(r store.Reader) error {
		for i := range ids {
			if _, err := r.Record(ctx, ids[i]); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("record of failed write %d: %v, want ErrNotFound", i, err)
			}
			if _, err := r.Ledger(ctx, ops[i]); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("ledger entry of failed write %d: %v, want ErrNotFound", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
