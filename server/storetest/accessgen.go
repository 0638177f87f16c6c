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
		// A write transaction sees the generation it began at, whether
		// it asks first or after a preload (with PostgreSQL, the
		// statement that takes the head's lock reads it).
		for _, preload := range []bool{false, true} {
			var atStart int64
			write(t, st, func(tx store.Tx) (err error) {
				if preload {
					if err := tx.Preload(ctx, store.Ahead{OpIDs: []string{model.NewID()}, RecordIDs: []string{matter}}); err != nil {
						return err
					}
				}
				atStart, err = tx.AccessGenAtStart(ctx)
				return err
			})
			if atStart != after {
				t.Errorf("%s: a write transaction (preload %v) began at access generation %d, want %d", s.what, preload, atStart, after)
			}
		}
	}
}

// testAccessGenSnapshot checks the promise a server's memo of Holder and
// IsMember answers rests on: an access generation read in a Read is
// never newer than what the Read's other reads see. Read first, it may
// come before the snapshot (a store may then begin none for a Read that
// asks nothing else); read after them, it is the snapshot's own.
func testAccessGenSnapshot(t *testing.T, st store.Store) {
	write(t, st, func(tx store.Tx) error {
		if err := addUser(t, tx, "alice"); err != nil {
			return err
		}
		for _, d := range []string{"laptop", "phone"} {
			if err := tx.PutToken(ctx, store.Token{Hash: "h-" + d, User: "alice", Device: d, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.TouchDevice(ctx, "alice", d, t0); err != nil {
				return err
			}
		}
		return nil
	})
	revoke := func(device string) {
		t.Helper()
		write(t, st, func(tx store.Tx) error {
			ok, err := tx.RevokeDevice(ctx, "alice", device, t0.Add(time.Minute), "admin")
			if err == nil && !ok {
				t.Fatalf("RevokeDevice(%s) revoked nothing", device)
			}
			return err
		})
	}

	// A generation read after the snapshot began is the snapshot's, not
	// that of a change committed since.
	err := st.Read(ctx, func(r store.Reader) error {
		before, err := r.AccessGen(ctx)
		if err != nil {
			return err
		}
		if tok, _, err := r.Holder(ctx, "h-laptop"); err != nil || !tok.RevokedAt.IsZero() {
			t.Fatalf("Holder before the revocation = %+v, %v; want a live token", tok, err)
		}
		revoke("laptop")
		after, err := r.AccessGen(ctx)
		if err != nil {
			return err
		}
		if after != before {
			t.Errorf("access generation read in a snapshot moved from %d to %d with a change committed after it began", before, after)
		}
		if tok, _, err := r.Holder(ctx, "h-laptop"); err != nil || !tok.RevokedAt.IsZero() {
			t.Errorf("Holder in the same snapshot = %+v, %v; want the token as the snapshot had it", tok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Read first, the generation may come before the snapshot, never
	// after: the snapshot's own generation and its answers agree, and
	// neither is older than the generation read first.
	err = st.Read(ctx, func(r store.Reader) error {
		first, err := r.AccessGen(ctx)
		if err != nil {
			return err
		}
		revoke("phone")
		tok, _, err := r.Holder(ctx, "h-phone")
		if err != nil {
			return err
		}
		own, err := r.AccessGen(ctx)
		if err != nil {
			return err
		}
		if own < first {
			t.Errorf("the snapshot's access generation %d is older than the one read first, %d", own, first)
		}
		if revoked := !tok.RevokedAt.IsZero(); revoked != (own > first) {
			t.Errorf("the snapshot shows the device revoked=%v at access generation %d (read first: %d)", revoked, own, first)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testReadPreloadMembers checks that PreloadMembers in a read snapshot
// changes no IsMember answer, for pairs preloaded twice, members and not.
func testReadPreloadMembers(t *testing.T, st store.Store) {
	m1, m2 := model.NewID(), model.NewID()
	write(t, st, func(tx store.Tx) error {
		for _, u := range []string{"alice", "bob"} {
			if err := addUser(t, tx, u); err != nil {
				return err
			}
		}
		if _, err := tx.AddMember(ctx, "alice", m1); err != nil {
			return err
		}
		_, err := tx.AddMember(ctx, "bob", m2)
		return err
	})
	want := map[[2]string]bool{{"alice", m1}: true, {"alice", m2}: false, {"bob", m1}: false, {"bob", m2}: true, {"carol", m1}: false}
	var users, matters []string
	for k := range want {
		users, matters = append(users, k[0], k[0]), append(matters, k[1], k[1])
	}
	err := st.Read(ctx, func(r store.Reader) error {
		if err := r.PreloadMembers(ctx, users, matters); err != nil {
			return err
		}
		// A change committed after the preload is not the snapshot's.
		write(t, st, func(tx store.Tx) error { _, err := tx.AddMember(ctx, "alice", m2); return err })
		for k, is := range want {
			got, err := r.IsMember(ctx, k[0], k[1])
			if err != nil {
				return err
			}
			if got != is {
				t.Errorf("IsMember(%s, %s) after PreloadMembers = %v, want %v", k[0], k[1], got, is)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
