package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// TestLoginLocksAuditedOncePerInterval: guesses at one name spread over
// many addresses, each staying under the address's limit, lock the name
// every five failures; the audit log gets one row for the first lock and
// then at most one an interval, which says how many failures it stands
// for and since when. The failures of locks in between are carried by the
// next failure after the interval, by the compaction's prune once the
// interval has ended, or by a successful login that clears the count —
// never lost. The chain still verifies. On PostgreSQL the guesses go to
// two replicas in turn, which share what was audited.
func TestLoginLocksAuditedOncePerInterval(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testLoginLocksAudited(t, 1) })
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t)
		testLoginLocksAudited(t, 2, func(o *server.Options) { o.DatabaseURL = url })
	})
}

func testLoginLocksAudited(t *testing.T, n int, opts ...servertest.Option) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	logged := &lockLines{}
	opts = append(opts, withClock(clk), func(o *server.Options) { o.Logger = slog.New(logged) })
	var replicas []*servertest.Server
	for range n {
		replicas = append(replicas, servertest.Start(t, opts...))
	}
	srv := replicas[0]
	srv.NewUser(t, "alice", server.RoleMember)
	addrs := 0
	// guess fails n logins at name, each from an address of its own, the
	// replicas in turn.
	guess := func(name string, n int) {
		t.Helper()
		for range n {
			addrs++
			hc := from(fmt.Sprintf("127.0.%d.%d", 3+addrs/250, 1+addrs%250))
			failTimes(t, hc, replicas[addrs%len(replicas)].URL, name, 1)
		}
	}
	type row struct{ actor, device, target, after string }
	var seen int
	// newLocks returns the login_locked rows written since it last looked.
	newLocks := func() []row {
		t.Helper()
		entries, err := srv.Audit(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for _, e := range entries[seen:] {
			if e.Action == "login_locked" {
				out = append(out, row{e.Actor, e.Device, e.Target, e.After})
			}
		}
		seen = len(entries)
		return out
	}
	// want also checks that the log said what the audit log says: a line
	// with each row, none with each lock.
	want := func(what string, rows ...row) {
		t.Helper()
		if got := newLocks(); !slices.Equal(got, rows) {
			t.Fatalf("%s: audited locks %q, want %q", what, got, rows)
		}
		var lines []string
		for _, r := range rows {
			lines = append(lines, r.target+" "+r.after)
		}
		if got := logged.take(); !slices.Equal(got, lines) {
			t.Fatalf("%s: logged locks %q, want %q", what, got, lines)
		}
	}
	stamp := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

	guess("ghost", 10*server.LoginMaxFailures)
	want("ten locks of a name no account has", row{"ghost", "laptop", "user:ghost",
		"locked for 1m0s after 5 failures since " + stamp(0) + " (1 lock)"})

	clk.Add(server.LoginAuditEvery / 2)
	guess("ghost", server.LoginMaxFailures)
	if _, err := srv.PruneLoginFailures(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	want("another lock, and a prune, within the interval")

	clk.Add(server.LoginAuditEvery/2 + time.Second)
	guess("ghost", 1)
	want("the first failure after the interval", row{"ghost", "laptop", "user:ghost",
		"50 failures from " + stamp(0) + " to " + stamp(time.Hour+time.Second) + " (10 locks)"})

	guess("ghost", server.LoginMaxFailures-1)
	want("a lock just after a row")
	clk.Add(server.LoginAuditEvery + time.Second)
	if _, err := srv.PruneLoginFailures(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	want("the prune after the interval", row{"ghost", "", "user:ghost",
		"5 failures from " + stamp(time.Hour+time.Second) + " to " + stamp(time.Hour+time.Second) + " (1 lock)"})
	if _, err := srv.PruneLoginFailures(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	want("a second prune")

	// Two more locks within the interval the prune's row began; then no
	// failure for longer than counts are kept: the next failure starts a
	// new count, but the two locks are still told.
	guess("ghost", 2*server.LoginMaxFailures)
	want("two locks after the prune's row")
	clk.Add(server.LoginAuditEvery + time.Second)
	guess("ghost", 1)
	want("a failure after the count was forgotten", row{"ghost", "laptop", "user:ghost",
		"10 failures from " + stamp(2*time.Hour+2*time.Second) + " to " + stamp(3*time.Hour+3*time.Second) + " (2 locks)"})

	// alice's name is locked twice; the second lock waits for its row
	// when she signs in from her office, which clears the count.
	guess("alice", 2*server.LoginMaxFailures)
	if st, se := loginAs(t, from("127.0.0.2"), srv.URL, "alice", servertest.Password); st != http.StatusOK {
		t.Fatalf("alice from a clean address: %d %+v, want 200", st, se)
	}
	since := clk.Now().Format(time.RFC3339)
	want("alice's locks and her login", row{"alice", "laptop", "user:alice", "locked for 1m0s after 5 failures since " + since + " (1 lock)"},
		row{"alice", "", "user:alice", "5 failures from " + since + " to " + since + " (1 lock)"})

	rep, err := srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v, %v", rep, err)
	}
}

// lockLines keeps the "login locked" lines the servers log, as "KEY
// DETAIL".
type lockLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lockLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lockLines) WithGroup(string) slog.Handler            { return l }

func (l *lockLines) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "login locked" {
		return nil
	}
	var key, detail string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "key":
			key = a.Value.String()
		case "detail":
			detail = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, key+" "+detail)
	return nil
}

// take returns the lines logged since it last did.
func (l *lockLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}
