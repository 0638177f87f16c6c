package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

func TestCompactionForgetsExpiredLoginsSQLite(t *testing.T) {
	testCompactionForgetsLogins(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "server.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestCompactionForgetsExpiredLoginsPostgres(t *testing.T) {
	testCompactionForgetsLogins(t, func(t *testing.T) store.Store {
		st, err := pgstore.Open(context.Background(), storetest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// testCompactionForgetsLogins: every login adds a token, and a login
// under a new device name a device. Compaction deletes the tokens that
// have expired, and the devices that hold none, were never revoked and
// were not seen for the retention; a revoked device is kept (an admin
// lists it), and so are the tokens it was given before its revocation,
// expired or not: each must still be refused with device_revoked, so that
// a lost laptop coming back after its login expired wipes itself.
func testCompactionForgetsLogins(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	const ttl, retention = 24 * time.Hour, 72 * time.Hour
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Microsecond)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	wait := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	st := open(t)
	srv := servertest.Start(t, func(o *server.Options) {
		o.Store, o.Now, o.TokenTTL, o.Retention = st, clock, ttl, retention
	})
	if err := srv.AddUser(ctx, "alice", servertest.Password, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	login := func(device string) string {
		t.Helper()
		c, err := servertest.Login(ctx, srv.URL, "alice", servertest.Password, device)
		if err != nil {
			t.Fatalf("login from %s: %v", device, err)
		}
		sum := sha256.Sum256([]byte(c.Token))
		return hex.EncodeToString(sum[:])
	}
	held := func(hash string) bool {
		t.Helper()
		err := st.Read(ctx, func(r store.Reader) error { _, err := r.Token(ctx, hash); return err })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	devices := func() []string {
		t.Helper()
		ds, err := srv.Devices(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.Name)
		}
		return out
	}
	compact := func() {
		t.Helper()
		if _, err := srv.Compact(ctx, clock()); err != nil {
			t.Fatal(err)
		}
	}

	// 20 logins from as many devices; "lost" is revoked at once.
	var old []string
	for i := range 20 {
		old = append(old, login(fmt.Sprintf("device %02d", i)))
	}
	lostC, err := servertest.Login(ctx, srv.URL, "alice", servertest.Password, "lost")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(lostC.Token))
	lost := hex.EncodeToString(sum[:])
	if err := srv.RevokeDevice(ctx, "alice", "lost"); err != nil {
		t.Fatal(err)
	}
	wait(ttl / 2)
	stolen := login("stolen")
	if err := srv.RevokeDevice(ctx, "alice", "stolen"); err != nil {
		t.Fatal(err)
	}
	wait(ttl/2 + time.Minute)
	current := login("current")

	// The first 20 and "lost"'s have expired; "stolen"'s has not.
	compact()
	for i, h := range old {
		if held(h) {
			t.Fatalf("the expired token of device %02d was kept", i)
		}
	}
	if !held(lost) {
		t.Error("the expired token of a revoked device was deleted")
	}
	var se *servertest.StatusError
	if err := lostC.Call(ctx, http.MethodGet, protocol.PathPull+"?cursor=0", nil, &protocol.PullResponse{}); !errors.As(err, &se) || se.Code != protocol.CodeDeviceRevoked {
		t.Errorf("the revoked device, back after its login expired: %v, want %s", err, protocol.CodeDeviceRevoked)
	}
	if !held(stolen) || !held(current) {
		t.Fatalf("a token not yet expired was deleted: revoked device's %v, current %v", held(stolen), held(current))
	}
	if got := len(devices()); got != 23 {
		t.Fatalf("%d devices after the tokens expired; want all 23 until they are idle for the retention", got)
	}

	// Past the retention, the devices with no token go, but a revoked one.
	wait(retention)
	current = login("current")
	compact()
	if got, want := devices(), []string{"current", "lost", "stolen"}; !slices.Equal(got, want) {
		t.Fatalf("devices after the retention = %q, want %q", got, want)
	}
	// A compaction told a time ahead (to age history) deletes no token
	// the server's clock still takes.
	if _, err := srv.Compact(ctx, clock().Add(10*retention)); err != nil {
		t.Fatal(err)
	}
	if !held(current) {
		t.Error("a compaction told a later time deleted a token that has not expired")
	}
}
