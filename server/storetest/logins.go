package storetest

import (
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
	write(t, st, func(tx store.Tx) error { return tx.DeleteLoginFailures(ctx, locked.Key, "user:nobody") })
	if got := loginFailures(t, st, locked.Key); got.Failures != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("deleted count still there: %+v", got)
	}
}
