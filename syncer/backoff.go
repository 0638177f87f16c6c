package syncer

import (
	"casefile/apiclient"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff computes retry delays: exponential growth from Base, capped at
// Cap, with full jitter (a uniform draw in [0, ceiling)) so that many
// clients coming back from the same outage do not retry in lockstep.
type Backoff struct {
	Base, Cap time.Duration
	// Rand returns a float in [0, 1); nil uses a shared random source.
	Rand func() float64
}

// Default retry schedules.
var (
	OpBackoff     = Backoff{Base: time.Second, Cap: 5 * time.Minute}  // ops after a transient failure
	StreamBackoff = Backoff{Base: time.Second, Cap: time.Minute}      // event stream reconnects
	ProbeBackoff  = Backoff{Base: time.Second, Cap: 30 * time.Second} // health probes while offline
)

// Delay returns the wait before retry number attempt (0 for the first
// retry). The ceiling doubles with each attempt up to Cap; the result is
// never below Base/2, so a retry never spins.
func (b Backoff) Delay(attempt int) time.Duration {
	ceiling := b.Ceiling(attempt)
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	d := time.Duration(r() * float64(ceiling))
	if floor := b.Base / 2; d < floor {
		d = floor
	}
	return d
}

// Ceiling returns the upper bound of Delay(attempt).
func (b Backoff) Ceiling(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	c := b.Base
	for i := 0; i < attempt && c < b.Cap; i++ {
		c *= 2
	}
	return min(c, b.Cap)
}

// LockedRand makes a seeded source safe for the syncer's goroutines, for
// Options.Rand in tests that want reproducible delays.
func LockedRand(seed uint64) func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

// waitAfter is the wait before trying again after err: d from the
// backoff, or longer when the server asked for it (Retry-After on a 429
// or 503).
func waitAfter(d time.Duration, err error) time.Duration {
	var e *apiclient.Error
	if errors.As(err, &e) && e.RetryAfter > d {
		return e.RetryAfter
	}
	return d
}

func (s *Syncer) backoff(b Backoff, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := waitAfter(b.Delay(s.failures), err)
	s.failures++
	now := s.opts.Now()
	s.clockLocked(now)
	s.holdUntil = now.Add(d)
}
