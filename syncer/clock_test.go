package syncer_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/syncer"
)

// TestRetryAfterClockJumpsBack: a push fails and its op is scheduled to
// retry after a short backoff; then the device's wall clock jumps back a
// day (a bad battery clock corrected by NTP). The retry must come after
// its backoff, not once the clock has caught up — whatever the clock
// reads, no retry waits longer than its backoff.
func TestRetryAfterClockJumpsBack(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	var offset atomic.Int64 // what the device's clock is off by
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	// Retries capped at 2 s: on a loaded machine pushes may fail several
	// times before the test sees one waiting, and the retry due after the
	// jump must still come within waitFor's patience (a retry waiting for
	// the clock to catch up would wait a day).
	d := w.newDevice("d", alice, func(o *syncer.Options) {
		o.Now = clock
		o.OpBackoff = syncer.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second}
	})
	// Pushes fail until the clock has jumped: on a busy machine a single
	// failure's retry could land before the test saw it waiting.
	var failing atomic.Bool
	failing.Store(true)
	w.proxy.SetRule(func(path string, _ []byte) (faultproxy.Fault, bool) {
		if strings.HasPrefix(path, protocol.PathPush) && failing.Load() {
			return faultproxy.Unavailable, true
		}
		return "", false
	})
	d.create("matter", model.Fields{"title": "Retried"})
	d.start()
	waitFor(t, "the failed push to be scheduled for a retry", func() bool {
		ops := d.outbox()
		return len(ops) == 1 && ops[0].State == localdb.OpRetrying
	})
	offset.Store(int64(-24 * time.Hour))
	failing.Store(false)
	waitFor(t, "the retry after the clock went back", func() bool { return len(d.outbox()) == 0 })
}
