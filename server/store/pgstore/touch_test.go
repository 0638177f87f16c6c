package pgstore_test

import (
	"context"
	"testing"
	"time"

	"casefile/server/store"
	"casefile/server/storetest"
)

// TestTouchTakesNoSequenceLock: noting a device seen goes through while
// another replica's write holds the change-sequence lock. Every stream's
// first request on a replica notes its device, so a reconnecting firm's
// streams used to queue for the lock behind pushes, and pushes behind
// them (2,500 such writes while S6's 10,000 streams opened).
func TestTouchTakesNoSequenceLock(t *testing.T) {
	ctx := context.Background()
	a, b := openTwo(t, storetest.PostgresURL(t))
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := a.Write(ctx, func(tx store.Tx) error {
		return tx.AddUser(ctx, store.User{Name: "alice", Role: "member", PasswordHash: "x", CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- a.Write(ctx, func(tx store.Tx) error {
			if _, err := tx.NextSeq(ctx); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := b.TouchDevice(tctx, "alice", "laptop", now)
	cancel()
	close(release)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatalf("noting a device seen while another write held the lock: %v", err)
	}
	var devs []store.Device
	if err := b.Read(ctx, func(r store.Reader) (err error) { devs, err = r.Devices(ctx, "alice"); return err }); err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Name != "laptop" || !devs[0].LastSeen.Equal(now) {
		t.Fatalf("devices = %+v", devs)
	}
}
