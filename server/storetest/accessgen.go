package storetest

import (
	"testing"
	"time"

	"casefile/model"
	"casefile/server/store"
)

// testAccessGen checks that the access generation grows with every change
// a remembered Holder or IsMember answer could miss (a device revoked,
// tokens deleted, a membership added or ended) and stands still through
// the writes a busy server makes all the time (tokens added, devices
// seen, records written, memberships that were already there).
func testAccessGen(t *testing.T, st store.Store) {
	gen := func() int64 {
		t.Helper()
		var n int64
		if err := st.Read(ctx, func(r store.Reader) (err error) { n, err = r.AccessGen(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	matter := model.NewID()
	steps := []struct {
		what  string
		grows bool
		fn    func(tx store.Tx) error
	}{
		{"add users", false, func(tx store.Tx) error {
			if err := addUser(t, tx, "alice"); err != nil {
				return err
			}
			return addUser(t, tx, "bob")
		}},
		{"add tokens", false, func(tx store.Tx) error {
			for _, tok := range []store.Token{
				{Hash: "h1", User: "alice", Device: "laptop", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
				{Hash: "h2", User: "alice", Device: "phone", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
				{Hash: "h3", User: "bob", Device: "phone", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			} {
				if err := tx.PutToken(ctx, tok); err != nil {
					return err
				}
			}
			return nil
		}},
		{"see devices", false, func(tx store.Tx) error {
			if err := tx.TouchDevice(ctx, "alice", "laptop", t0); err != nil {
				return err
			}
			return tx.TouchDevice(ctx, "alice", "laptop", t0.Add(time.Minute))
		}},
		{"write a record", false, func(tx store.Tx) error {
			seq, err := tx.NextSeq(ctx)
			if err != nil {
				return err
			}
			return tx.PutRecord(ctx, store.Record{ID: matter, Collection: model.MatterCollection, MatterID: matter,
				Version: 1, Seq: seq, Fields: model.Fields{"title": "M"}, FieldVersions: map[string]int64{"title": 1},
				CreatedBy: "alice", CreatedAt: t0, UpdatedBy: "alice", UpdatedAt: t0})
		}},
		{"add a member", true, func(tx store.Tx) error { _, err := tx.AddMember(ctx, "alice", matter); return err }},
		{"end a membership", true, func(tx store.Tx) error { _, err := tx.RemoveMember(ctx, "alice", matter); return err }},
		{"revoke a device", true, func(tx store.Tx) error { _, err := tx.RevokeDevice(ctx, "alice", "laptop", t0, "admin"); return err }},
		{"delete a device's tokens", true, func(tx store.Tx) error { _, err := tx.DeleteTokens(ctx, "alice", "phone"); return err }},
		{"delete a user's tokens", true, func(tx store.Tx) error { _, err := tx.DeleteTokens(ctx, "bob", ""); return err }},
	}
	for _, s := range steps {
		before := gen()
		write(t, st, s.fn)
		after := gen()
		switch {
		case s.grows && after <= before:
			t.Errorf("%s: access generation %d → %d, want it to grow", s.what, before, after)
		case !s.grows && after != before:
			t.Errorf("%s: access generation %d → %d, want it unchanged", s.what, before, after)
		}
	}
}
