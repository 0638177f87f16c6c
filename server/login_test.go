package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// from returns an HTTP client whose connections come from a loopback
// address of its own (127.0.0.0/8 is all loopback on Linux), so one test
// can log in from several client addresses.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// loginAs sends a login from hc and returns the scenario-style status and
// the error answer.
func loginAs(t *testing.T, hc *http.Client, baseURL, user, password string) (int, *servertest.StatusError) {
	t.Helper()
	c := &servertest.Client{URL: baseURL, HTTP: hc}
	err := c.Call(context.Background(), http.MethodPost, protocol.PathLogin,
		protocol.LoginRequest{User: user, Password: password, Device: "laptop"}, nil)
	if err == nil {
		return http.StatusOK, nil
	}
	se, ok := err.(*servertest.StatusError)
	if !ok {
		t.Fatalf("login %s: %v", user, err)
	}
	return se.Status, se
}

func failTimes(t *testing.T, hc *http.Client, baseURL, user string, n int) {
	t.Helper()
	for i := range n {
		if st, se := loginAs(t, hc, baseURL, user, "wrong password"); st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d for %s: %d %v, want 401", i+1, user, st, se)
		}
	}
}

// TestLoginFailuresLock: five wrong passwords in a minute lock the name
// and the address (429 with Retry-After, even for the right password from
// that address); the right password from an address with no failures
// still gets in; a lock ends when it says, and the next one lasts twice as
// long. Locks are in the audit log (the first of each key at once) and the
// metrics.
func TestLoginFailuresLock(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk))
	srv.NewUser(t, "alice", server.RoleMember)
	attacker, office := from("127.0.0.1"), from("127.0.0.2")

	failTimes(t, attacker, srv.URL, "alice", server.LoginMaxFailures)
	st, se := loginAs(t, attacker, srv.URL, "alice", servertest.Password)
	if st != http.StatusTooManyRequests || se.Code != protocol.CodeRateLimited || se.RetryAfter != "60" {
		t.Fatalf("right password from the failing address: %d %+v, want 429 with Retry-After 60", st, se)
	}
	if st, se := loginAs(t, attacker, srv.URL, "bob", "any password"); st != http.StatusTooManyRequests {
		t.Fatalf("another name from the locked address: %d %+v, want 429", st, se)
	}
	if st, se := loginAs(t, office, srv.URL, "alice", servertest.Password); st != http.StatusOK {
		t.Fatalf("the real user from a clean address: %d %+v, want 200", st, se)
	}

	clk.Add(server.LoginLockBase + time.Second)
	failTimes(t, attacker, srv.URL, "mallory", server.LoginMaxFailures)
	if st, se := loginAs(t, attacker, srv.URL, "alice", servertest.Password); st != http.StatusTooManyRequests || se.RetryAfter != "120" {
		t.Fatalf("second lock of the address: %d %+v, want 429 with Retry-After 120 (doubled)", st, se)
	}

	entries, err := srv.Audit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var locks []string
	for _, e := range entries {
		if e.Action == "login_locked" {
			locks = append(locks, e.Target)
		}
	}
	// The address's second lock, within LoginAuditEvery of its first, is
	// counted for its next row (TestLoginLocksAuditedOncePerInterval).
	if strings.Join(locks, " ") != "user:alice addr:127.0.0.1 user:mallory" {
		t.Fatalf("audited locks = %v", locks)
	}
	metrics := servertest.Scenario{URL: "/metrics", Status: 200, Contains: []string{
		`casefile_login_refused_total{reason="locked"} 3`,
		`casefile_login_refused_total{reason="bad_credentials"} 10`,
		`casefile_login_lockouts_total 4`,
	}}
	metrics.Test(t, srv.URL)
}

// TestLoginGuessesAtOnceStayWithinTheLimit: guesses sent all at once,
// before any failure is written, are checked no more often than the
// failure limit allows, from one address at a name, or from one address
// at many names; the rest are refused 429, and the lock then holds.
func TestLoginGuessesAtOnceStayWithinTheLimit(t *testing.T) {
	for _, c := range []struct {
		name  string
		names func(i int) string
	}{{"one name", func(int) string { return "alice" }}, {"a name each", func(i int) string { return fmt.Sprintf("user%d", i) }}} {
		t.Run(c.name, func(t *testing.T) {
			srv := servertest.Start(t, func(o *server.Options) { o.LoginConcurrency, o.LoginWait = 4, 10*time.Second })
			srv.NewUser(t, "alice", server.RoleMember)
			attacker := from("127.0.0.1")
			const n = 40
			statuses := make([]int, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					hc := &servertest.Client{URL: srv.URL, HTTP: attacker}
					err := hc.Call(context.Background(), http.MethodPost, protocol.PathLogin,
						protocol.LoginRequest{User: c.names(i), Password: fmt.Sprintf("guess %d", i), Device: "laptop"}, nil)
					var se *servertest.StatusError
					switch {
					case err == nil:
						statuses[i] = http.StatusOK
					case errors.As(err, &se):
						statuses[i] = se.Status
					default:
						errs[i] = err
					}
				}()
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, st := range statuses {
				switch st {
				case http.StatusUnauthorized:
					checked++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("a guess answered %d", st)
				}
			}
			if checked == 0 || checked > server.LoginMaxFailures {
				t.Fatalf("%d of %d guesses sent at once were checked; want 1 to %d", checked, n, server.LoginMaxFailures)
			}
			if checked == server.LoginMaxFailures {
				if st, se := loginAs(t, attacker, srv.URL, "alice", servertest.Password); st != http.StatusTooManyRequests {
					t.Fatalf("the right password after the guesses: %d %+v, want 429", st, se)
				}
			}
		})
	}
}

// TestLoginLockSharedByReplicas: failures counted by one replica lock the
// name on another, since the counts live in the shared database.
func TestLoginLockSharedByReplicas(t *testing.T) {
	url := storetest.PostgresURL(t)
	pg := func(o *server.Options) { o.DatabaseURL = url }
	a := servertest.Start(t, pg)
	b := servertest.Start(t, pg)
	a.NewUser(t, "alice", server.RoleMember)
	hc := from("127.0.0.3")
	failTimes(t, hc, a.URL, "alice", 3)
	failTimes(t, hc, b.URL, "alice", 2)
	if st, se := loginAs(t, hc, a.URL, "alice", servertest.Password); st != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures on A and 2 on B: %d %+v, want 429", st, se)
	}
}

// TestLoginWaitsForAFreePasswordCheck: with every password check busy a
// login waits, then gets 429 with Retry-After instead of one more
// argon2id hash; once checks are free it goes through.
func TestLoginWaitsForAFreePasswordCheck(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.LoginConcurrency, o.LoginWait = 2, 50*time.Millisecond })
	srv.NewUser(t, "alice", server.RoleMember)
	release := srv.HoldPasswordChecks()
	login := fmt.Sprintf(`{"user":"alice","password":%q,"device":"x"}`, servertest.Password)
	busy := servertest.Scenario{Method: "POST", URL: protocol.PathLogin, Body: login, Status: http.StatusTooManyRequests,
		Contains: []string{`"code":"rate_limited"`}, NotContains: []string{`"token"`}, WantHeaders: map[string]string{"Retry-After": "1"}}
	busy.Test(t, srv.URL)
	release()
	ok := servertest.Scenario{Method: "POST", URL: protocol.PathLogin, Body: login, Status: http.StatusOK, Contains: []string{`"token"`}}
	ok.Test(t, srv.URL)
	servertest.Scenario{URL: "/metrics", Contains: []string{`casefile_login_refused_total{reason="busy"} 1`}}.Test(t, srv.URL)
}

// TestLoginScenarios: names no account can have are refused without a
// password check; bad bodies are 400.
func TestLoginScenarios(t *testing.T) {
	srv := servertest.Start(t)
	srv.NewUser(t, "alice", server.RoleMember)
	body := func(user, password string) string {
		return fmt.Sprintf(`{"user":%q,"password":%q,"device":"laptop"}`, user, password)
	}
	bad := []string{`"code":"unauthorized"`, "The user name or password is wrong."}
	servertest.Run(t, srv.URL, []servertest.Scenario{
		{Name: "right password", Method: "POST", URL: "/v1/login", Body: body("alice", servertest.Password), Status: 200,
			Contains: []string{`"user":"alice"`, `"device":"laptop"`}},
		{Name: "empty name", Method: "POST", URL: "/v1/login", Body: body("", "x"), Status: 401, Contains: bad},
		{Name: "name with a space", Method: "POST", URL: "/v1/login", Body: body("alice smith", "x"), Status: 401, Contains: bad},
		{Name: "name with NUL", Method: "POST", URL: "/v1/login", Body: `{"user":"al\u0000ice","password":"x","device":"laptop"}`, Status: 401, Contains: bad},
		{Name: "name too long", Method: "POST", URL: "/v1/login", Body: body(strings.Repeat("a", 65), "x"), Status: 401, Contains: bad},
		{Name: "password too long", Method: "POST", URL: "/v1/login", Body: body("alice", strings.Repeat("p", 1025)), Status: 401, Contains: bad},
		{Name: "metrics count them unhashed", URL: "/metrics", Status: 200,
			Contains: []string{`casefile_login_refused_total{reason="malformed"} 5`, `casefile_login_refused_total{reason="bad_credentials"} 0`}},
	})
}

// TestLoginRetryAfterOfALockedName: while guesses from many addresses keep
// alice's name locked, the real alice mistyping once from her office is
// told to try again when her address's one failure is forgotten (about a
// minute), not when the attacker's lock of her name ends, and her right
// password then gets in. It used to say 120 s, and then 240, as the
// attacker's locks doubled, while a try after 61 s got in.
func TestLoginRetryAfterOfALockedName(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srv := servertest.Start(t, withClock(clk))
	srv.NewUser(t, "alice", server.RoleMember)
	for i := range 2 * server.LoginMaxFailures {
		failTimes(t, from(fmt.Sprintf("127.0.1.%d", i+1)), srv.URL, "alice", 1)
	}
	office := from("127.0.0.2")
	failTimes(t, office, srv.URL, "alice", 1)
	st, se := loginAs(t, office, srv.URL, "alice", servertest.Password)
	if st != http.StatusTooManyRequests || se.RetryAfter != "61" {
		t.Fatalf("the right password after one typo, the name locked: %d %+v, want 429 with Retry-After 61", st, se)
	}
	clk.Add(61 * time.Second)
	if st, se := loginAs(t, office, srv.URL, "alice", servertest.Password); st != http.StatusOK {
		t.Fatalf("the right password when Retry-After said: %d %+v, want 200", st, se)
	}
}
