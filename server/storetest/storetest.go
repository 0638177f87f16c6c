// Package storetest is the conformance suite every server store passes:
// sqlitestore and pgstore run the same Run.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"casefile/model"
	"casefile/server/store"
)

// Opener returns a new, empty store; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite, each case on a store of its own.
func Run(t *testing.T, open Opener) {
	cases := []struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}{
		{"EmptyHead", testEmptyHead},
		{"SeqRollback", testSeqRollback},
		{"RecordRoundTrip", testRecordRoundTrip},
		{"ChangesVisibility", testChangesVisibility},
		{"ChangesText", testChangesText},
		{"BumpMatter", testBumpMatter},
		{"MatterHolds", testMatterHolds},
		{"Ledger", testLedger},
		{"UsersAndTokens", testUsersAndTokens},
		{"Members", testMembers},
		{"DroppedMatters", testDroppedMatters},
		{"Removals", testRemovals},
		{"RemovalHistory", testRemovalHistory},
		{"RemovalsOnlyHeld", testRemovalsOnlyHeld},
		{"AuditChain", testAuditChain},
		{"HasAudit", testHasAudit},
		{"Compact", testCompact},
		{"CompactBumpedTombstone", testCompactBumpedTombstone},
		{"Hints", testHints},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Savepoint", testSavepoint},
		{"SavepointNested", testSavepointNested},
		{"PushPattern", testPushPattern},
		{"ChangesPages", testChangesPages},
		{"ChangesBytes", testChangesBytes},
		{"HeadInTransaction", testHeadInTransaction},
		{"HintsCoalesce", testHintsCoalesce},
		{"LoginFailures", testLoginFailures},
		{"LoginFailuresUnaudited", testLoginFailuresUnaudited},
		{"PruneLogins", testPruneLogins},
		{"AccessGen", testAccessGen},
		{"TouchDevice", testTouchDevice},
		{"AccessGenSnapshot", testAccessGenSnapshot},
		{"ReadPreloadMembers", testReadPreloadMembers},
		{"PreloadMany", testPreloadMany},
		{"FailedWritesLeaveNothing", testFailedWritesLeaveNothing},
		{"WriteTiming", testWriteTiming},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			c.fn(t, st)
		})
	}
}

var ctx = context.Background()

// t0 is a fixed instant with microsecond precision, as stores keep it.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func write(t *testing.T, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Write(ctx, fn); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func head(t *testing.T, st store.Store) store.Head {
	t.Helper()
	var h store.Head
	if err := st.Read(ctx, func(r store.Reader) (err error) { h, err = r.Head(ctx); return err }); err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

// putRecord writes a record of a matter at the next seq and returns it.
func putRecord(t *testing.T, st store.Store, collection, matter string, fields model.Fields) store.Record {
	t.Helper()
	rec := store.Record{ID: model.NewID(), Collection: collection, MatterID: matter, Version: 1, Fields: fields,
		FieldVersions: map[string]int64{}, CreatedBy: "alice", CreatedAt: t0, UpdatedBy: "alice", UpdatedAt: t0}
	if collection == model.MatterCollection {
		rec.ID, rec.MatterID = matter, matter
	}
	for k := range fields {
		rec.FieldVersions[k] = 1
	}
	write(t, st, func(tx store.Tx) (err error) {
		if rec.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, rec)
	})
	return rec
}

func testEmptyHead(t *testing.T, st store.Store) {
	if h := head(t, st); h != (store.Head{}) {
		t.Fatalf("head of an empty store = %+v", h)
	}
}

func testSeqRollback(t *testing.T, st store.Store) {
	write(t, st, func(tx store.Tx) error { _, err := tx.NextSeq(ctx); return err })
	boom := errors.New("boom")
	err := st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.NextSeq(ctx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write returned %v, want fn's error", err)
	}
	var got int64
	write(t, st, func(tx store.Tx) (err error) { got, err = tx.NextSeq(ctx); return err })
	if got != 2 {
		t.Fatalf("seq after a rolled-back write = %d, want 2", got)
	}
}

func testRecordRoundTrip(t *testing.T, st store.Store) {
	matter := model.NewID()
	// The text is what an array literal would have to quote (PostgreSQL
	// sends a transaction's rows as one array per column).
	fields := model.Fields{"title": "Ünïcode ✓", "minutes": 90.5, "done": true, "tags": []string{"a", "b"},
		"body": `{"x", NULL}, \\ '' NULL`, "empty": "", model.MatterField: matter}
	rec := putRecord(t, st, "note", matter, fields)
	var got store.Record
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Record(ctx, rec.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, rec)
	}
	rec.Version, rec.Deleted, rec.Fields = 2, true, model.Fields{"title": "x"}
	rec.FieldVersions = map[string]int64{"title": 2}
	rec.FieldChanges = map[string]store.FieldChange{"title": {By: "bob", At: t0.Add(90 * time.Second)}}
	write(t, st, func(tx store.Tx) (err error) {
		if rec.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, rec)
	})
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Record(ctx, rec.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("after replace\n%+v\nwant\n%+v", got, rec)
	}
	err := st.Read(ctx, func(r store.Reader) error { _, err := r.Record(ctx, model.NewID()); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v, want ErrNotFound", err)
	}
}

func addUser(t *testing.T, tx store.Tx, name string) error {
	t.Helper()
	return tx.AddUser(ctx, store.User{Name: name, Role: "member", PasswordHash: "h", CreatedAt: t0})
}

func testChangesVisibility(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error {
		if err := addUser(t, tx, "alice"); err != nil {
			return err
		}
		_, err := tx.AddMember(ctx, "alice", a)
		return err
	})
	var want []int64
	for i := range 6 {
		m := a
		if i%2 == 1 {
			m = b
		}
		r := putRecord(t, st, "note", m, model.Fields{"title": fmt.Sprint(i)})
		if m == a {
			want = append(want, r.Seq)
		}
	}
	seqs := func(q store.ChangeQuery) ([]int64, int64) {
		t.Helper()
		var recs []store.Record
		var n int64
		err := st.Read(ctx, func(r store.Reader) (err error) {
			if recs, err = r.Changes(ctx, q); err != nil {
				return err
			}
			q.Limit = 0
			n, err = r.CountChanges(ctx, q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range recs {
			out = append(out, r.Seq)
		}
		return out, n
	}
	if got, n := seqs(store.ChangeQuery{User: "alice", UpTo: 6}); !slices.Equal(got, want) || n != 3 {
		t.Fatalf("alice sees %v (count %d), want %v", got, n, want)
	}
	if got, n := seqs(store.ChangeQuery{User: "bob", UpTo: 6}); len(got) != 0 || n != 0 {
		t.Fatalf("bob, with no grant, sees %v (count %d)", got, n)
	}
	if got, n := seqs(store.ChangeQuery{All: true, After: 2, UpTo: 5, Limit: 2}); !slices.Equal(got, []int64{3, 4}) || n != 3 {
		t.Fatalf("admin range (2,5] limit 2 = %v (count %d), want [3 4] (count 3)", got, n)
	}
}

// testChangesText: Changes with Text gives each record's fields as the
// text encoding them writes, or decoded as without Text; nothing else of
// the record differs.
func testChangesText(t *testing.T, st store.Store) {
	m := model.NewID()
	for _, f := range []model.Fields{
		{"title": "plain"},
		{"title": "<&> \u2028 é \"quoted\"", "body": "line\none\ttab", "tags": []string{"b", "a"}},
		{"title": "done", "urgent": true, "due": nil},
		{},
	} {
		putRecord(t, st, "note", m, f)
	}
	var plain, text []store.Record
	if err := st.Read(ctx, func(r store.Reader) (err error) {
		q := store.ChangeQuery{All: true, UpTo: 4}
		if plain, err = r.Changes(ctx, q); err != nil {
			return err
		}
		q.Text = true
		text, err = r.Changes(ctx, q)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(plain) != 4 || len(text) != 4 {
		t.Fatalf("changes: %d and %d records, want 4", len(plain), len(text))
	}
	if text[0].FieldsText == "" {
		t.Fatalf("fields written by the store came back decoded: %+v", text[0])
	}
	for i := range plain {
		p, x := plain[i], text[i]
		if p.FieldsText != "" {
			t.Fatalf("record %d: text %q without Text", i, p.FieldsText)
		}
		want, err := json.Marshal(p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		if x.FieldsText != "" {
			if x.Fields != nil || x.FieldsText != string(want) {
				t.Fatalf("record %d: text %q (fields %v), want %s", i, x.FieldsText, x.Fields, want)
			}
		} else if got, _ := json.Marshal(x.Fields); string(got) != string(want) {
			t.Fatalf("record %d: decoded %s, want %s", i, got, want)
		}
		x.Fields, x.FieldsText, p.Fields = nil, "", nil
		if !reflect.DeepEqual(p, x) {
			t.Fatalf("record %d differs beyond its fields:\n%+v\n%+v", i, p, x)
		}
	}
}

func testMatterHolds(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	putRecord(t, st, model.MatterCollection, a, model.Fields{"title": "A"})
	putRecord(t, st, "note", a, model.Fields{"title": "1"})
	putRecord(t, st, "note", a, model.Fields{"title": "2"})
	gone := putRecord(t, st, "task", a, model.Fields{"title": "3"})
	putRecord(t, st, "task", a, model.Fields{"title": "4"})
	putRecord(t, st, "note", b, model.Fields{"title": "elsewhere"})
	write(t, st, func(tx store.Tx) (err error) {
		gone.Deleted = true
		if gone.Seq, err = tx.NextSeq(ctx); err != nil {
			return err
		}
		return tx.PutRecord(ctx, gone)
	})
	var got map[string]int64
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.MatterHolds(ctx, a); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["note"] != 2 || got["task"] != 1 {
		t.Fatalf("matter holds %v, want 2 notes and 1 task (not itself, not the tombstone, not another matter's)", got)
	}
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.MatterHolds(ctx, model.NewID()); return err }); err != nil || len(got) != 0 {
		t.Fatalf("an unknown matter holds %v (%v), want nothing", got, err)
	}
}

func testBumpMatter(t *testing.T, st store.Store) {
	a, b := model.NewID(), model.NewID()
	r1 := putRecord(t, st, "note", a, model.Fields{"title": "1"})
	putRecord(t, st, "note", b, model.Fields{"title": "2"})
	r3 := putRecord(t, st, "note", a, model.Fields{"title": "3"})
	var n, last int64
	write(t, st, func(tx store.Tx) (err error) { n, last, err = tx.BumpMatter(ctx, a); return err })
	if n != 2 || last != 5 || head(t, st).Seq != 5 {
		t.Fatalf("bump = %d records, last %d, head %d; want 2, 5, 5", n, last, head(t, st).Seq)
	}
	var got []store.Record
	if err := st.Read(ctx, func(r store.Reader) (err error) {
		got, err = r.Changes(ctx, store.ChangeQuery{All: true, After: 3, UpTo: 5})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != r1.ID || got[0].Seq != 4 || got[1].ID != r3.ID || got[1].Seq != 5 {
		t.Fatalf("after bump, changes (3,5] = %+v", got)
	}
	write(t, st, func(tx store.Tx) (err error) { n, last, err = tx.BumpMatter(ctx, model.NewID()); return err })
	if n != 0 || head(t, st).Seq != 5 {
		t.Fatalf("bumping an empty matter moved %d records, head %d", n, head(t, st).Seq)
	}
}

func testLedger(t *testing.T, st store.Store) {
	e := store.LedgerEntry{OpID: model.NewID(), User: "alice", Device: "laptop", At: t0, Result: []byte(`{"result":"applied"}`)}
	write(t, st, func(tx store.Tx) error { return tx.PutLedger(ctx, e) })
	var got store.LedgerEntry
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Ledger(ctx, e.OpID); return err }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("ledger = %+v, want %+v", got, e)
	}
	err := st.Write(ctx, func(tx store.Tx) error { return tx.PutLedger(ctx, e) })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second entry for an op id: %v, want ErrDuplicate", err)
	}
	err = st.Read(ctx, func(r store.Reader) error { _, err := r.Ledger(ctx, model.NewID()); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown op id: %v, want ErrNotFound", err)
	}
}

func testUsersAndTokens(t *testing.T, st store.Store) {
	write(t, st, func(tx store.Tx) error { return addUser(t, tx, "alice") })
	err := st.Write(ctx, func(tx store.Tx) error { return addUser(t, tx, "alice") })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second user alice: %v, want ErrDuplicate", err)
	}
	toks := []store.Token{
		{Hash: "h1", User: "alice", Device: "laptop", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Hash: "h2", User: "alice", Device: "phone", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{Hash: "h3", User: "alice", Device: "phone", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}
	write(t, st, func(tx store.Tx) error {
		for _, tok := range toks {
			if err := tx.PutToken(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})
	var got store.Token
	if err := st.Read(ctx, func(r store.Reader) (err error) { got, err = r.Token(ctx, "h2"); return err }); err != nil {
		t.Fatal(err)
	}
	if got != toks[1] {
		t.Fatalf("token = %+v, want %+v", got, toks[1])
	}
	var holder, alice store.User
	if err := st.Read(ctx, func(r store.Reader) (err error) {
		if got, holder, err = r.Holder(ctx, "h2"); err != nil {
			return err
		}
		alice, err = r.User(ctx, "alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != toks[1] || holder != alice {
		t.Fatalf("holder = %+v, %+v; want %+v, %+v", got, holder, toks[1], alice)
	}
	if err := st.Read(ctx, func(r store.Reader) error { _, _, err := r.Holder(ctx, "nobody's"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("holder of an unknown token: %v, want ErrNotFound", err)
	}
	var n int64
	write(t, st, func(tx store.Tx) (err error) { n, err = tx.DeleteTokens(ctx, "alice", "phone"); return err })
	if n != 2 {
		t.Fatalf("revoked %d phone tokens, want 2", n)
	}
	write(t, st, func(tx store.Tx) (err error) { n, err = tx.DeleteTokens(ctx, "alice", ""); return err })
	if n != 1 {
		t.Fatalf("revoked %d remaining tokens, want 1", n)
	}
	err = st.Read(ctx, func(r store.Reader) error { _, err := r.Token(ctx, "h1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token: %v, want ErrNotFound", err)
	}
	err = st.Read(ctx, func(r store.Reader) error { _, _, err := r.Holder(ctx, "h1"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("holder of a revoked token: %v, want ErrNotFound", err)
	}
	var users []store.User
	if err := st.Read(ctx, func(r store.Reader) (err error) { users, err = r.Users(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "alice" || !users[0].CreatedAt.Equal(t0) {
		t.Fatalf("users = %+v", users)
	}
}
