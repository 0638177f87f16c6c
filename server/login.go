package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"casefile/protocol"
	"casefile/server/store"
)

// Login limits. A password check is argon2id with ~19 MiB of memory, so
// how many run at once bounds what unauthenticated callers can make the
// server allocate; failures are counted per user name and per client
// address at rates no person reaches.
const (
	// DefaultLoginConcurrency is how many password checks run at once.
	DefaultLoginConcurrency = 4
	// DefaultLoginWait is how long a login waits for a free password
	// check before it is answered 429.
	DefaultLoginWait = 2 * time.Second
	// loginBusyRetry is the Retry-After of a login refused for lack of a
	// free password check.
	loginBusyRetry = time.Second
	// LoginMaxFailures failures within LoginFailureWindow lock a user name
	// or a client address.
	LoginMaxFailures   = 5
	LoginFailureWindow = time.Minute
	// LoginLockBase is the first lock; each lockout in a row doubles it,
	// up to LoginLockMax.
	LoginLockBase = time.Minute
	LoginLockMax  = 15 * time.Minute
	// loginForgetAfter: a count with no failure for this long starts
	// again from nothing (lockouts in a row included).
	loginForgetAfter = time.Hour
	// LoginAuditEvery is the least time between two login_locked audit
	// rows of one key: guesses at one name spread over many addresses
	// lock it every LoginMaxFailures failures, and a row for each would
	// grow the audit log without bound (1,000 guesses a second, 200 rows).
	// The locks in between are counted, and the next row says how many
	// failures it stands for and since when.
	LoginAuditEvery = time.Hour
	// loginAuditBatch is how many keys' unaudited locks one transaction
	// of the compaction audits.
	loginAuditBatch = 500
	// freeMemoryEvery is the least time between two returns of the
	// password checks' memory to the operating system.
	freeMemoryEvery = 5 * time.Second
	// freeMemoryAfterKiB: memory is handed back only after checks that
	// used at least this much since the last time (a burst, not one
	// login: returning it costs a full garbage collection).
	freeMemoryAfterKiB = 64 << 10
)

// Reasons a login is refused, as the metrics label them.
const (
	refusedCredentials = "bad_credentials" // wrong password or unknown user (401)
	refusedMalformed   = "malformed"       // a user name no account can have (401, not hashed)
	refusedLocked      = "locked"          // too many failures for the name or the address (429)
	refusedBusy        = "busy"            // no free password check in time (429)
)

// loginGate bounds the password checks running at once and hands their
// memory back to the operating system when a burst ends: argon2id's
// blocks are garbage once checked, but Go keeps freed heap for reuse, so
// a burst of 100 logins would otherwise leave the process at its peak.
type loginGate struct {
	slots    chan struct{}
	wait     time.Duration
	checkKiB uint32        // memory of one check (the server's hash cost)
	idle     chan struct{} // signalled when a burst of checks has ended

	mu        sync.Mutex
	running   int
	usedSince uint64 // KiB used by checks since memory was last handed back
}

func newLoginGate(n int, wait time.Duration, checkKiB uint32) *loginGate {
	return &loginGate{slots: make(chan struct{}, n), wait: wait, checkKiB: checkKiB, idle: make(chan struct{}, 1)}
}

// acquire waits up to the gate's wait for a free check; false means busy.
func (g *loginGate) acquire(ctx context.Context) bool {
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	g.mu.Lock()
	g.running++
	g.mu.Unlock()
	return true
}

func (g *loginGate) release() {
	g.mu.Lock()
	g.running--
	g.usedSince += uint64(g.checkKiB)
	burstEnded := g.running == 0 && g.usedSince >= freeMemoryAfterKiB
	g.mu.Unlock()
	<-g.slots
	if burstEnded {
		select {
		case g.idle <- struct{}{}:
		default:
		}
	}
}

// loginsUnderWay counts, per user name and per address, the logins
// whose password is being checked: a failure is written only once its
// check ends, so without them a burst of guesses sent at once would all
// be checked before the first failure counted. Each key's failures in
// the store plus its logins under way must stay within LoginMaxFailures.
// The count is this process's; replicas on one store each keep their own.
type loginsUnderWay struct {
	mu sync.Mutex
	n  map[string]int
}

// begin counts a login for each key and returns how many are now under
// way for each, this one included.
func (u *loginsUnderWay) begin(keys ...string) []int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == nil {
		u.n = map[string]int{}
	}
	out := make([]int, len(keys))
	for i, k := range keys {
		u.n[k]++
		out[i] = u.n[k]
	}
	return out
}

// end uncounts a login begun with keys.
func (u *loginsUnderWay) end(keys ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range keys {
		if u.n[k]--; u.n[k] <= 0 {
			delete(u.n, k)
		}
	}
}

// tooMany says whether a login, with name and addr the counts under way
// (this one included), would let more guesses be checked than the
// failure limit allows: the address's, or the name's when the address
// has failed or has other logins under way (lockedFor's rule).
func (c loginCounts) tooMany(name, addr int) bool {
	if c.addr.Failures+addr > LoginMaxFailures {
		return true
	}
	return c.name.Failures+name > LoginMaxFailures && (!clean(c.addr) || addr > 1)
}

// freeMemoryLoop returns freed memory to the operating system after each
// burst of password checks, at most once per freeMemoryEvery.
func (s *Server) freeMemoryLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.logins.idle:
		}
		s.logins.mu.Lock()
		s.logins.usedSince = 0
		s.logins.mu.Unlock()
		debug.FreeOSMemory()
		t := time.NewTimer(freeMemoryEvery)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// clientAddr is the key of the client's address: the IP, and for IPv6 its
// /64, which one subscriber usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return "addr:" + p.String()
		}
	}
	return "addr:" + ip.String()
}

func userKey(name string) string { return "user:" + name }

// fresh returns f as it counts at now: forgotten after loginForgetAfter
// without a failure, its window restarted once LoginFailureWindow passed.
func fresh(f store.LoginFailures, now time.Time) store.LoginFailures {
	if f.LastFailure.IsZero() || now.Sub(f.LastFailure) > loginForgetAfter {
		if now.Before(f.LockedUntil) {
			return f
		}
		// The failures are forgotten, but not what the audit log has
		// yet to be told of them.
		return store.LoginFailures{Key: f.Key, AuditedAt: f.AuditedAt, Unaudited: f.Unaudited, UnauditedSince: f.UnauditedSince}
	}
	if now.Sub(f.WindowStart) > LoginFailureWindow {
		f.Failures, f.WindowStart = 0, now
	}
	return f
}

// clean reports whether a count holds no failure and no lock.
func clean(f store.LoginFailures) bool {
	return f.Failures == 0 && f.Lockouts == 0 && f.LockedUntil.IsZero()
}

// loginCounts are the failure counts of one login attempt's name and
// address.
type loginCounts struct {
	name, addr store.LoginFailures
}

// lockedFor reports how long a login must wait: the address is locked, or
// the name is locked and the address has failed too. An address with no
// failures may still try a locked name, so an attacker cannot keep the
// real user out by failing on purpose.
func (c loginCounts) lockedFor(now time.Time) time.Duration {
	if now.Before(c.addr.LockedUntil) {
		return c.addr.LockedUntil.Sub(now)
	}
	if now.Before(c.name.LockedUntil) && !clean(c.addr) {
		wait := c.name.LockedUntil.Sub(now)
		if c.addr.Lockouts == 0 && c.addr.LockedUntil.IsZero() {
			// Only the address's few failures keep it from trying the
			// locked name, and fresh forgets them when their window
			// ends: that is when to try again (a second later, past
			// the window's edge), not when an attacker's lock of the
			// name ends.
			wait = min(wait, c.addr.WindowStart.Add(LoginFailureWindow+time.Second).Sub(now))
		}
		return wait
	}
	return 0
}

// readLoginCounts reads the counts of a name and an address.
func (s *Server) readLoginCounts(ctx context.Context, name, addr string) (loginCounts, error) {
	var c loginCounts
	now := s.now()
	err := s.st.Read(ctx, func(rd store.Reader) error {
		var err error
		if c.name, err = rd.LoginFailures(ctx, userKey(name)); err != nil {
			return err
		}
		c.addr, err = rd.LoginFailures(ctx, addr)
		return err
	})
	c.name, c.addr = fresh(c.name, now), fresh(c.addr, now)
	return c, err
}

// countFailure adds a failed login to the name's and the address's counts,
// locking each that reaches LoginMaxFailures in its window. Locks are
// written to the audit log at most once per LoginAuditEvery per key: the
// first at once, the others counted in the key's row and carried by the
// next audit row, written at the first failure after the interval (or by
// the compaction, auditUnauditedLocks).
//
// The log says what the audit log says, once the write has committed: a
// line with each row that carries locks, not one with every lock, so a
// flood of guesses at many names from many addresses writes no more lines
// than rows. The lockout count (casefile_login_lockouts_total) counts
// every lock.
func (s *Server) countFailure(ctx context.Context, name, addr, device string) error {
	now := s.now()
	var locks int
	var rows []*store.AuditEntry
	err := s.st.Write(ctx, func(tx store.Tx) error {
		locks, rows = 0, rows[:0]
		for _, key := range []string{userKey(name), addr} {
			f, err := tx.LoginFailures(ctx, key)
			if err != nil {
				return err
			}
			f = fresh(f, now)
			if f.WindowStart.IsZero() {
				f.WindowStart = now
			}
			f.Failures++
			f.LastFailure = now
			var lock time.Duration
			if f.Failures >= LoginMaxFailures {
				lock = min(LoginLockBase<<min(f.Lockouts, 16), LoginLockMax)
				f.LockedUntil = now.Add(lock)
				f.Lockouts++
				if f.Unaudited == 0 {
					f.UnauditedSince = f.WindowStart
				}
				f.Unaudited += f.Failures
				f.Failures, f.WindowStart = 0, now
				locks++
			}
			if f.Unaudited > 0 && !now.Before(f.AuditedAt.Add(LoginAuditEvery)) {
				e := &store.AuditEntry{At: now, Actor: name, Device: device, Action: "login_locked", Target: key,
					After: lockAuditText(lock, f)}
				if err := s.audit(ctx, tx, e); err != nil {
					return err
				}
				rows = append(rows, e)
				f.AuditedAt, f.Unaudited, f.UnauditedSince = now, 0, time.Time{}
			}
			if err := tx.PutLoginFailures(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.metrics.loginLockouts.Add(float64(locks))
	s.logLocks(rows)
	return nil
}

// logLocks writes a line to the log for each committed login_locked row.
func (s *Server) logLocks(rows []*store.AuditEntry) {
	for _, e := range rows {
		s.log.Warn("login locked", "key", e.Target, "detail", e.After)
	}
}

// lockAuditText is the After text of a login_locked audit row: the lock
// the failure being counted set, if any (lock 0: the row carries earlier
// locks only, and says when the key's last failure was), the failures of
// the locks of f no row has carried yet, and when the first of them came.
func lockAuditText(lock time.Duration, f store.LoginFailures) string {
	locks := "1 lock"
	if n := f.Unaudited / LoginMaxFailures; n != 1 {
		locks = fmt.Sprintf("%d locks", n)
	}
	since := f.UnauditedSince.UTC().Format(time.RFC3339)
	if lock > 0 {
		return fmt.Sprintf("locked for %s after %d failures since %s (%s)", lock, f.Unaudited, since, locks)
	}
	return fmt.Sprintf("%d failures from %s to %s (%s)", f.Unaudited, since, f.LastFailure.UTC().Format(time.RFC3339), locks)
}

// auditLocksOf writes the audit row of locks of f that none carries yet,
// when the row that would have carried them is not coming: f is being
// deleted, or its interval has ended with no failure since. The row's
// actor is the key's user name or address.
// It returns the row, or nil when there was none to write.
func (s *Server) auditLocksOf(ctx context.Context, tx store.Tx, f store.LoginFailures, now time.Time) (*store.AuditEntry, error) {
	if f.Unaudited == 0 {
		return nil, nil
	}
	actor := strings.TrimPrefix(strings.TrimPrefix(f.Key, "user:"), "addr:")
	e := &store.AuditEntry{At: now, Actor: actor, Action: "login_locked", Target: f.Key, After: lockAuditText(0, f)}
	if err := s.audit(ctx, tx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// refuseLogin answers a refused login and counts it.
func (s *Server) refuseLogin(w http.ResponseWriter, r *http.Request, reason string, ae *apiError) {
	s.metrics.loginRefused.WithLabelValues(reason).Inc()
	s.writeError(w, r, ae)
}

var errBadLogin = &apiError{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized, msg: "The user name or password is wrong."}

func errLoginLocked(wait time.Duration) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited,
		msg: "Too many failed sign-ins for this user or from this address; wait and try again.", retryAfter: wait}
}

var errLoginBusy = &apiError{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited,
	msg: "The server is busy checking other sign-ins; try again in a moment.", retryAfter: loginBusyRetry}

// PruneLoginFailures audits the locks whose audit interval has ended
// with no failure to write their row, then forgets failure counts with no
// failure and no lock for loginForgetAfter; compaction calls it.
func (s *Server) PruneLoginFailures(ctx context.Context, now time.Time) (int64, error) {
	if err := s.auditUnauditedLocks(ctx, now); err != nil {
		return 0, err
	}
	var n int64
	err := s.st.Write(ctx, func(tx store.Tx) (err error) {
		n, err = tx.PruneLoginFailures(ctx, now.Add(-loginForgetAfter))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune login failures: %w", err)
	}
	return n, nil
}

// auditUnauditedLocks writes an audit row for each key whose locks wait
// for one and whose last row is LoginAuditEvery old, loginAuditBatch
// keys a transaction. A key audited here is not returned again: its row
// now says it was audited at now.
func (s *Server) auditUnauditedLocks(ctx context.Context, now time.Time) error {
	for {
		var done int
		var rows []*store.AuditEntry
		err := s.st.Write(ctx, func(tx store.Tx) error {
			rows = rows[:0]
			fs, err := tx.UnauditedLoginFailures(ctx, now.Add(-LoginAuditEvery), loginAuditBatch)
			if err != nil {
				return err
			}
			for _, f := range fs {
				e, err := s.auditLocksOf(ctx, tx, f, now)
				if err != nil {
					return err
				}
				if e != nil {
					rows = append(rows, e)
				}
				f.AuditedAt, f.Unaudited, f.UnauditedSince = now, 0, time.Time{}
				if err := tx.PutLoginFailures(ctx, f); err != nil {
					return err
				}
			}
			done = len(fs)
			return nil
		})
		if err != nil {
			return fmt.Errorf("audit login locks: %w", err)
		}
		s.logLocks(rows)
		if done < loginAuditBatch {
			return nil
		}
	}
}
