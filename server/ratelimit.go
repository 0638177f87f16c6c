package server

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"casefile/protocol"
)

// limiters hold a token bucket per key (a token's hash, or a user name for
// logins).
type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes one request from key's bucket, or says when to come back.
func (l *limiters) allow(key string) *apiError {
	if l.limit < 0 {
		return nil
	}
	l.mu.Lock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= 100_000 {
			// Forget idle buckets rather than grow without bound; a
			// forgotten bucket starts full again.
			for k, v := range l.m {
				if v.Tokens() >= float64(l.burst) {
					delete(l.m, k)
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[key] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return &apiError{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited,
			msg: "Too many requests; wait and try again.", retryAfter: max(d, time.Second)}
	}
	return nil
}
