package storetest

import (
	"testing"
	"time"

	"casefile/server/store"
)

// testTouchDevice checks the store's own TouchDevice, the write outside
// any transaction: it adds a device, moves its last-seen time forward and
// never back, keeps a revocation, and moves neither the change sequence
// nor the access generation (a touch changes nothing a sync or a
// remembered access answer depends on).
func testTouchDevice(t *testing.T, st store.Store) {
	write(t, st, func(tx store.Tx) error { return addUser(t, tx, "alice") })
	state := func() (store.Device, int64, int64) {
		t.Helper()
		var devs []store.Device
		var head store.Head
		var gen int64
		err := st.Read(ctx, func(r store.Reader) (err error) {
			if head, err = r.Head(ctx); err != nil {
				return err
			}
			if gen, err = r.AccessGen(ctx); err != nil {
				return err
			}
			devs, err = r.Devices(ctx, "alice")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 {
			t.Fatalf("devices = %+v, want one", devs)
		}
		return devs[0], head.Seq, gen
	}
	touch := func(at time.Time) {
		t.Helper()
		if err := st.TouchDevice(ctx, "alice", "laptop", at); err != nil {
			t.Fatal(err)
		}
	}
	touch(t0)
	d, seq, gen := state()
	if !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0) {
		t.Fatalf("new device seen %v … %v, want %v both", d.FirstSeen, d.LastSeen, t0)
	}
	touch(t0.Add(time.Hour))
	touch(t0.Add(time.Minute)) // late, out of order: must not move it back
	if d, _, _ = state(); !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("after two more touches seen %v … %v, want %v … %v", d.FirstSeen, d.LastSeen, t0, t0.Add(time.Hour))
	}
	write(t, st, func(tx store.Tx) error {
		_, err := tx.RevokeDevice(ctx, "alice", "laptop", t0.Add(2*time.Hour), "admin")
		return err
	})
	_, _, revokedGen := state()
	touch(t0.Add(3 * time.Hour))
	d, seq2, gen2 := state()
	if !d.RevokedAt.Equal(t0.Add(2*time.Hour)) || d.RevokedBy != "admin" {
		t.Errorf("a touch after the revocation left it %v by %q", d.RevokedAt, d.RevokedBy)
	}
	if !d.LastSeen.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("last seen %v, want %v", d.LastSeen, t0.Add(3*time.Hour))
	}
	if seq2 != seq {
		t.Errorf("touches moved the change sequence %d → %d", seq, seq2)
	}
	if revokedGen <= gen || gen2 != revokedGen {
		t.Errorf("access generation %d, %d after the revocation, %d after a touch: want it to grow with the revocation only", gen, revokedGen, gen2)
	}
}
