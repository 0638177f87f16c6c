package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"casefile/server/store"
)

func loginFailures(t *testing.T, st store.Store, key string) store.LoginFailures {
	t.Helper()
	var f store.LoginFailures
	if err := st.Read(ctx, func(r store.Reader) (err error) { f, err = r.LoginFailures(ctx, key); return err }); err != nil {
		t.Fatalf("login failures %s: %v", key, err)
	}
	return f
}

func testLoginFailures(t *testing.T, st store.Store) {
	if got := loginFailures(t, st, "user:alice"); got != (store.LoginFailures{Key: "user:alice"}) {
		t.Fatalf("unknown key = %+v, want a zero count", got)
	}
	alice := store.LoginFailures{Key: "user:alice", Failures: 3, WindowStart: t0, LastFailure: t0.Add(time.Second)}
	locked := store.LoginFailures{Key: "addr:192.0.2.7", Failures: 5, WindowStart: t0, LastFailure: t0.Add(2 * time.Second),
		LockedUntil: t0.Add(time.Hour), Lockouts: 2}
	write(t, st, func(tx store.Tx) error {
		if err := tx.PutLoginFailures(ctx, alice); err != nil {
			return err
		}
		return tx.PutLoginFailures(ctx, locked)
	})
	if got := loginFailures(t, st, alice.Key); got != alice {
		t.Fatalf("read back %+v, want %+v (a zero lock stays zero)", got, alice)
	}
	if got := loginFailures(t, st, locked.Key); got != locked {
		t.Fatalf("read back %+v, want %+v", got, locked)
	}
	alice.Failures, alice.LastFailure = 4, t0.Add(3*time.Second)
	write(t, st, func(tx store.Tx) error { return tx.PutLoginFailures(ctx, alice) })
	if got := loginFailures(t, st, alice.Key); got != alice {
		t.Fatalf("replaced count %+v, want %+v", got, alice)
	}
	// Pruning at t0+1h keeps the locked address (its lock has not ended
	// before then) and drops alice's count.
	var n int64
	write(t, st, func(tx store.Tx) (err error) { n, err = tx.PruneLoginFailures(ctx, t0.Add(time.Hour)); return err })
	if n != 1 || loginFailures(t, st, alice.Key).Failures != 0 || loginFailures(t, st, locked.Key) != locked {
		t.Fatalf("prune removed %d; alice %+v, address %+v", n, loginFailures(t, st, alice.Key), loginFailures(t, st, locked.Key))
	}
	var gone []store.LoginFailures
	write(t, st, func(tx store.Tx) (err error) {
		gone, err = tx.DeleteLoginFailures(ctx, locked.Key, "user:nobody")
		return err
	})
	if got := loginFailures(t, st, locked.Key); got.Failures != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("deleted count still there: %+v", got)
	}
	if len(gone) != 1 || gone[0] != locked {
		t.Fatalf("delete returned %+v, want only the address's count %+v", gone, locked)
	}
}

// testLoginFailuresUnaudited: a count keeps when its locks were last
// audited and the failures of those since, from when; the counts whose
// failures wait for an audit row and whose last row is old enough are
// listed by key, within a limit; pruning keeps a count whose failures
// wait, however old, and deleting one returns them.
func testLoginFailuresUnaudited(t *testing.T, st store.Store) {
	old := t0.Add(-2 * time.Hour)
	counts := []store.LoginFailures{
		// Audited two hours ago, three locks since: waiting, old enough
		// to be pruned but for them.
		{Key: "user:alice", WindowStart: old, LastFailure: old.Add(time.Minute), Lockouts: 3,
			AuditedAt: old, Unaudited: 15, UnauditedSince: old.Add(time.Second)},
		// Audited just now, one lock since: waiting, but not old enough.
		{Key: "user:bob", Failures: 2, WindowStart: t0, LastFailure: t0, LockedUntil: t0.Add(time.Minute), Lockouts: 1,
			AuditedAt: t0, Unaudited: 5, UnauditedSince: t0},
		// Audited long ago, nothing waiting.
		{Key: "user:carol", Failures: 1, WindowStart: old, LastFailure: old, AuditedAt: old},
		// Waiting, audited never (a count from before audits were kept).
		{Key: "addr:192.0.2.9", WindowStart: old, LastFailure: old, Unaudited: 10, UnauditedSince: old},
	}
	write(t, st, func(tx store.Tx) error {
		for _, f := range counts {
			if err := tx.PutLoginFailures(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
	for _, f := range counts {
		if got := loginFailures(t, st, f.Key); got != f {
			t.Fatalf("read back %+v, want %+v", got, f)
		}
	}
	unaudited := func(before time.Time, limit int) []store.LoginFailures {
		t.Helper()
		var fs []store.LoginFailures
		write(t, st, func(tx store.Tx) (err error) { fs, err = tx.UnauditedLoginFailures(ctx, before, limit); return err })
		return fs
	}
	if got := unaudited(t0.Add(-time.Hour), 10); !slices.Equal(got, []store.LoginFailures{counts[3], counts[0]}) {
		t.Fatalf("waiting, audited before an hour ago = %+v, want the address's and alice's", got)
	}
	if got := unaudited(t0.Add(-time.Hour), 1); !slices.Equal(got, []store.LoginFailures{counts[3]}) {
		t.Fatalf("the first one waiting = %+v, want the address's", got)
	}
	if got := unaudited(t0.Add(time.Microsecond), 10); len(got) != 3 || got[2] != counts[1] {
		t.Fatalf("waiting, audited before now = %+v, want bob's too", got)
	}
	if got := unaudited(old, 10); !slices.Equal(got, []store.LoginFailures{counts[3]}) {
		t.Fatalf("waiting, audited before two hours ago = %+v, want only the never audited", got)
	}
	// Carol's count goes; alice's and the address's wait for their rows.
	var n int64
	write(t, st, func(tx store.Tx) (err error) { n, err = tx.PruneLoginFailures(ctx, t0.Add(-time.Hour)); return err })
	if n != 1 || loginFailures(t, st, "user:carol").LastFailure != (time.Time{}) ||
		loginFailures(t, st, "user:alice") != counts[0] || loginFailures(t, st, "addr:192.0.2.9") != counts[3] {
		t.Fatalf("prune removed %d; carol %+v, alice %+v", n, loginFailures(t, st, "user:carol"), loginFailures(t, st, "user:alice"))
	}
	alice := counts[0]
	alice.AuditedAt, alice.Unaudited, alice.UnauditedSince = t0, 0, time.Time{}
	write(t, st, func(tx store.Tx) error { return tx.PutLoginFailures(ctx, alice) })
	if got := unaudited(t0.Add(-time.Hour), 10); !slices.Equal(got, []store.LoginFailures{counts[3]}) {
		t.Fatalf("waiting after alice's row = %+v, want the address's only", got)
	}
	write(t, st, func(tx store.Tx) (err error) { n, err = tx.PruneLoginFailures(ctx, t0.Add(-time.Hour)); return err })
	if n != 1 || loginFailures(t, st, "user:alice").LastFailure != (time.Time{}) {
		t.Fatalf("prune of alice's audited count removed %d; alice %+v", n, loginFailures(t, st, "user:alice"))
	}
	var gone []store.LoginFailures
	write(t, st, func(tx store.Tx) (err error) {
		gone, err = tx.DeleteLoginFailures(ctx, "user:bob", "addr:192.0.2.9")
		return err
	})
	if !slices.Equal(gone, []store.LoginFailures{counts[1], counts[3]}) {
		t.Fatalf("delete returned %+v, want bob's and the address's counts as they were", gone)
	}
	if got := unaudited(t0.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("waiting after the delete = %+v, want none", got)
	}
}

// testPruneLogins: PruneLogins deletes tokens expired at its now (a token
// is refused from its expiry on, so the one expiring exactly then goes
// too), then devices holding no token, never revoked, last seen before
// the idle cut. A revoked device stays, and so does every token not yet
// expired, and every token a revoked device was given before its
// revocation, expired or not: each must still be refused with
// device_revoked, so that a lost laptop back after its login expired
// wipes itself. One given after the revocation goes when it expires.
func testPruneLogins(t *testing.T, st store.Store) {
	now, idle := t0.Add(2*time.Hour), t0.Add(time.Hour)
	write(t, st, func(tx store.Tx) error {
		for _, u := range []string{"alice", "bob"} {
			if err := addUser(t, tx, u); err != nil {
				return err
			}
		}
		for _, tok := range []store.Token{
			{Hash: "expired", User: "alice", Device: "laptop", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: "expires now", User: "alice", Device: "laptop", CreatedAt: t0, ExpiresAt: now},
			{Hash: "live", User: "alice", Device: "phone", CreatedAt: t0, ExpiresAt: now.Add(time.Microsecond)},
			{Hash: "revoked, expired", User: "alice", Device: "lost", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: "revoked, live", User: "bob", Device: "stolen", CreatedAt: t0, ExpiresAt: now.Add(time.Hour)},
			{Hash: "after the revocation, expired", User: "alice", Device: "lost", CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: t0.Add(time.Hour)},
		} {
			if err := tx.PutToken(ctx, tok); err != nil {
				return err
			}
		}
		for _, d := range []struct {
			user, name string
			seen       time.Time
		}{
			{"alice", "laptop", t0}, {"alice", "phone", t0}, {"alice", "lost", t0}, {"alice", "old", t0},
			{"alice", "recent", idle}, {"bob", "stolen", t0},
		} {
			if err := tx.TouchDevice(ctx, d.user, d.name, d.seen); err != nil {
				return err
			}
		}
		for _, d := range [][2]string{{"alice", "lost"}, {"bob", "stolen"}} {
			if _, err := tx.RevokeDevice(ctx, d[0], d[1], t0.Add(time.Minute), "admin"); err != nil {
				return err
			}
		}
		return nil
	})
	gen := func() int64 {
		t.Helper()
		var n int64
		if err := st.Read(ctx, func(r store.Reader) (err error) { n, err = r.AccessGen(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := gen()
	var tokens, devices int64
	write(t, st, func(tx store.Tx) (err error) { tokens, devices, err = tx.PruneLogins(ctx, now, idle); return err })
	if tokens != 3 || devices != 2 {
		t.Fatalf("pruned %d tokens and %d devices, want 3 (two expired, one expiring now, one given after a revocation) and 2 (laptop, old)",
			tokens, devices)
	}
	if gen() <= before {
		t.Error("pruning tokens left the access generation where it was")
	}
	for hash, want := range map[string]bool{"expired": false, "expires now": false, "revoked, expired": true,
		"after the revocation, expired": false, "live": true, "revoked, live": true} {
		err := st.Read(ctx, func(r store.Reader) error { _, err := r.Token(ctx, hash); return err })
		if got := err == nil; got != want || (err != nil && !errors.Is(err, store.ErrNotFound)) {
			t.Errorf("token %q after the prune: %v, want held %v", hash, err, want)
		}
	}
	var stolen store.Token
	if err := st.Read(ctx, func(r store.Reader) (err error) { stolen, err = r.Token(ctx, "revoked, live"); return err }); err != nil ||
		!stolen.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("a revoked device's live token = %+v, %v; want its revocation kept", stolen, err)
	}
	names := func(user string) []string {
		t.Helper()
		var ds []store.Device
		if err := st.Read(ctx, func(r store.Reader) (err error) { ds, err = r.Devices(ctx, user); return err }); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.Name)
			if d.Name == "lost" && (d.RevokedAt.IsZero() || d.RevokedBy != "admin") {
				t.Errorf("the revoked device lost its revocation: %+v", d)
			}
		}
		return out
	}
	if got, want := names("alice"), []string{"lost", "phone", "recent"}; !slices.Equal(got, want) {
		t.Errorf("alice's devices = %q, want %q", got, want)
	}
	if got, want := names("bob"), []string{"stolen"}; !slices.Equal(got, want) {
		t.Errorf("bob's devices = %q, want %q", got, want)
	}
	write(t, st, func(tx store.Tx) (err error) { tokens, devices, err = tx.PruneLogins(ctx, now, idle); return err })
	if tokens != 0 || devices != 0 {
		t.Errorf("a second prune removed %d tokens and %d devices, want none", tokens, devices)
	}
}
