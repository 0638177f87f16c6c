package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/internal/faultproxy"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store/pgstore"
	"casefile/server/storetest"
)

// notesTitled counts the notes titled title a client pulls from zero.
func notesTitled(t *testing.T, c *servertest.Client, title string) int {
	t.Helper()
	pages, err := c.PullAll(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pages {
		for _, r := range p.Records {
			if r.Collection == "note" && r.Fields["title"] == title {
				n++
			}
		}
	}
	return n
}

// TestPushWhileTheHeadIsLocked: while a session holds the head's lock
// (a person's transaction left open in psql), a push waits no longer
// than the store's lock wait and is answered 503 unavailable with
// Retry-After, which clients retry; it used to wait for as long as the
// lock was held, each retry one more handler waiting. Sent again once
// the lock is free, the push is applied once.
func TestPushWhileTheHeadIsLocked(t *testing.T) {
	ctx := context.Background()
	base := storetest.PostgresURL(t)
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL = base + "&lock_timeout=300ms" })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Locked")
	release := storetest.HoldLock(t, base, "SELECT seq FROM head WHERE id = 1 FOR UPDATE")
	op := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Waited"})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := alice.Push(pctx, op)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != protocol.CodeUnavailable || se.RetryAfter == "" {
		t.Fatalf("push while the head is locked: %v, want 503 unavailable with Retry-After", err)
	}
	for _, leak := range []string{"SQLSTATE", "lock", "timeout", "head"} {
		if strings.Contains(se.Message, leak) {
			t.Errorf("the answer %q tells of the database (%q)", se.Message, leak)
		}
	}
	release()
	first := alice.PushOne(t, op)
	again := alice.PushOne(t, op)
	if first.Result != model.ResultApplied || again.Result != model.ResultApplied || first.Record.Seq != again.Record.Seq {
		t.Fatalf("the push sent again: %+v, then %+v", first, again)
	}
	if n := notesTitled(t, alice, "Waited"); n != 1 {
		t.Fatalf("%d notes after the push sent twice, want 1", n)
	}
}

// TestReplicaRecoversFromASilentLink: when every connection between a
// replica and PostgreSQL goes silent (nothing arrives, nothing is
// reported: a firewall's or NAT's flows forgotten, the database host
// gone), /healthz answers within its bound instead of hanging, and the
// replica serves pushes and pulls again on new connections without a
// restart. Its reads and push groups used to wait on the dead
// connections until TCP gave up, every request of the replica with them.
func TestReplicaRecoversFromASilentLink(t *testing.T) {
	ctx := context.Background()
	dbURL, link := behindLink(t)
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL = dbURL })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Severed")
	alice.CreateNote(t, m.ID, "Before")
	if n := link.Sever(); n == 0 {
		t.Fatal("no connection passed the link")
	}
	// Pooled connections are checked once idle for a second.
	time.Sleep(1100 * time.Millisecond)
	hc := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	resp, err := hc.Get(srv.URL + protocol.PathHealth)
	if err != nil {
		t.Fatalf("/healthz after the link went silent: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
	resp.Body.Close()
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("/healthz answered %d after %v", resp.StatusCode, took.Round(time.Millisecond))
	}
	op := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "After"})
	deadline := time.Now().Add(60 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		resp, err := alice.Push(pctx, op)
		cancel()
		if err == nil && len(resp.Results) == 1 && resp.Results[0].Result == model.ResultApplied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica still fails pushes %v after its link went silent: %v", time.Since(start).Round(time.Second), err)
		}
		var se *servertest.StatusError
		var ne net.Error
		if !errors.As(err, &se) && !errors.As(err, &ne) && err != nil {
			t.Fatalf("push: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := notesTitled(t, alice, "After"); n != 1 {
		t.Fatalf("%d notes pushed after the link went silent, want 1", n)
	}
	if n := notesTitled(t, alice, "Before"); n != 1 {
		t.Fatalf("%d notes pushed before the link went silent, want 1", n)
	}
}

// TestStoreLogsInTheServersLog: the PostgreSQL store's own news (its
// change listener losing its connection) goes to the server's log, in
// its format and at its level; it went to slog's default logger, which a
// server's log handler never saw.
func TestStoreLogsInTheServersLog(t *testing.T) {
	dbURL, link := behindLink(t)
	var logs servertest.SyncBuffer
	servertest.Start(t, func(o *server.Options) {
		o.DatabaseURL = dbURL
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	link.Cut()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `msg="change listener lost its connection" component=pgstore`) {
		if time.Now().After(deadline) {
			t.Fatalf("the server's log after the listener's connection was cut:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPushWhileTheDatabaseRefuses: while PostgreSQL takes no connections
// (down, restarting, at max_connections) and the replica's own were cut,
// /healthz and a push answer 503 unavailable (the push with Retry-After), with a
// sentence without a word of the driver's; the push was answered 500
// internal, though it surely never reached the database. Once the
// database takes connections again the push is applied, once.
func TestPushWhileTheDatabaseRefuses(t *testing.T) {
	ctx := context.Background()
	dbURL, link := behindLink(t)
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL = dbURL })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Refused")
	link.Refuse(true)
	link.Cut()
	op := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Refused"})
	for _, try := range []string{protocol.PathHealth, protocol.PathPush} {
		var err error
		if try == protocol.PathPush {
			_, err = alice.Push(ctx, op)
		} else {
			err = alice.Call(ctx, http.MethodGet, try, nil, nil)
		}
		var se *servertest.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != protocol.CodeUnavailable ||
			(try == protocol.PathPush && se.RetryAfter == "") {
			t.Fatalf("%s while the database refuses connections: %v, want 503 unavailable (a push's with Retry-After)", try, err)
		}
		for _, leak := range []string{"connect", "postgres", "127.0.0.1", "EOF"} {
			if strings.Contains(se.Message, leak) {
				t.Errorf("%s: the answer %q tells of the driver (%q)", try, se.Message, leak)
			}
		}
	}
	link.Refuse(false)
	var res protocol.PushResponse
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for res, err = alice.Push(ctx, op); err != nil; res, err = alice.Push(ctx, op) {
		if time.Now().After(deadline) {
			t.Fatalf("push once the database takes connections again: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(res.Results) != 1 || res.Results[0].Result != model.ResultApplied {
		t.Fatalf("push once the database takes connections again: %+v", res)
	}
	if n := notesTitled(t, alice, "Refused"); n != 1 {
		t.Fatalf("%d notes after the push was refused and sent again, want 1", n)
	}
}

// TestPushAndPullRightAfterConnectionsReset: when every connection
// between a replica and PostgreSQL is closed under it (the database
// restarted, the network reset them) while the database takes new ones,
// the pushes and pulls that come next succeed, the push applied once.
// The pool checks a connection only once it has been idle for a second,
// so those used just before came out of it dead, and each such request
// was answered 500 internal though nothing of it reached the database.
func TestPushAndPullRightAfterConnectionsReset(t *testing.T) {
	ctx := context.Background()
	dbURL, link := behindLink(t)
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL = dbURL })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	m := alice.CreateMatter(t, "Reset")
	// Warm the pool: requests at once, each on a connection of its own.
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := bob.Pull(ctx, 0, 0)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				_, err := alice.Push(ctx, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": fmt.Sprintf("Warm %d.%d", round, i)}))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("warming the pool: %v", err)
			}
		}
	}
	if n := link.Cut(); n < 3 {
		t.Fatalf("%d connections passed the link, want the pool's and the listener's", n)
	}
	// At once, within the second in which the pool does not check them.
	op := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "After the reset"})
	var (
		wg   sync.WaitGroup
		push protocol.PushResponse
		perr error
		pull protocol.PullResponse
		lerr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); push, perr = alice.Push(ctx, op) }()
	go func() { defer wg.Done(); pull, lerr = alice.Pull(ctx, 0, 0) }()
	wg.Wait()
	if perr != nil {
		t.Errorf("push right after the database's connections were reset: %v", perr)
	} else if len(push.Results) != 1 || push.Results[0].Result != model.ResultApplied {
		t.Errorf("push right after the database's connections were reset: %+v", push)
	}
	if lerr != nil {
		t.Errorf("pull right after the database's connections were reset: %v", lerr)
	} else if len(pull.Records) == 0 {
		t.Errorf("pull right after the database's connections were reset: no records")
	}
	if t.Failed() {
		return
	}
	if n := notesTitled(t, alice, "After the reset"); n != 1 {
		t.Fatalf("%d notes after one push right after the reset, want 1", n)
	}
	if again := alice.PushOne(t, op); again.Result != model.ResultApplied || again.Record.Seq != push.Results[0].Record.Seq {
		t.Fatalf("the push sent again: %+v, first %+v", again, push.Results[0])
	}
}

// behindLink returns the test database's URL with its connections passing
// a fault link, and the link, closed when the test ends (after the servers
// it started stop).
func behindLink(t *testing.T) (string, *faultproxy.Link) {
	t.Helper()
	return storetest.BehindLink(t, storetest.PostgresURL(t))
}

// groupCutServer starts a server on PostgreSQL behind a link that
// storetest.GroupCut cuts, with a user, alice, who holds a matter titled
// title, and the head after it.
func groupCutServer(t *testing.T, title string) (*servertest.Server, *storetest.GroupCut, *servertest.Client, *protocol.Record, int64) {
	t.Helper()
	ctx := context.Background()
	dbURL, link := behindLink(t)
	st, err := pgstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cut := &storetest.GroupCut{Store: st, Link: link}
	srv := servertest.Start(t, func(o *server.Options) { o.Store = cut })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, title)
	head0, err := srv.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cut, alice, m, head0
}

// TestPushGroupGoesAgainWhenItsConnectionDies: a push group whose
// connection to PostgreSQL dies in the middle of its transaction (the
// database restarted, the network reset it), before its COMMIT was
// sent, goes again on another connection: the push is answered, its ops
// applied once. It used to be answered 500, for a retry the device makes
// only after its backoff.
func TestPushGroupGoesAgainWhenItsConnectionDies(t *testing.T) {
	ctx := context.Background()
	srv, cut, alice, m, head0 := groupCutServer(t, "Cut")
	cut.Cuts.Store(1)
	runs := cut.Runs.Load()
	resp, err := alice.Push(ctx,
		servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Cut 1"}),
		servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Cut 2"}))
	if err != nil {
		t.Fatalf("a push whose group's connection died before its COMMIT: %v", err)
	}
	if cut.Cuts.Load() != 0 {
		t.Fatal("the push's group never reached its preload: nothing was cut")
	}
	if n := cut.Runs.Load() - runs; n != 2 {
		t.Errorf("the group ran %d times, want 2: cut, then again on another connection", n)
	}
	for i, r := range resp.Results {
		if r.Result != model.ResultApplied || r.Record.Seq != head0+int64(i)+1 {
			t.Errorf("op %d: %s at seq %d, want applied at %d", i, r.Result, r.Record.Seq, head0+int64(i)+1)
		}
	}
	for _, title := range []string{"Cut 1", "Cut 2"} {
		if n := notesTitled(t, alice, title); n != 1 {
			t.Errorf("%d notes titled %q, want 1", n, title)
		}
	}
	rep, err := srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit after the group went again: %+v %v", rep, err)
	}
}

// TestPushGroupLostTwiceIsUnavailable: a push group whose connection dies
// before its COMMIT on its second run too is answered 503 unavailable
// with Retry-After, having applied nothing, and the push sent again is
// applied once.
func TestPushGroupLostTwiceIsUnavailable(t *testing.T) {
	ctx := context.Background()
	srv, cut, alice, m, head0 := groupCutServer(t, "Cut twice")
	op := servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Cut twice"})
	cut.Cuts.Store(2)
	_, err := alice.Push(ctx, op)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != protocol.CodeUnavailable || se.RetryAfter == "" {
		t.Fatalf("a push whose group lost its connection twice: %v, want 503 unavailable with Retry-After", err)
	}
	if n := cut.Fired.Load(); n != 2 {
		t.Fatalf("%d groups cut, want 2", n)
	}
	if head, err := srv.Head(ctx); err != nil || head != head0 {
		t.Fatalf("head %d after the refused push, want %d: nothing of it applied (%v)", head, head0, err)
	}
	if r := alice.PushOne(t, op); r.Result != model.ResultApplied || r.Record.Seq != head0+1 {
		t.Fatalf("the push sent again: %+v, want applied at %d", r, head0+1)
	}
	if n := notesTitled(t, alice, "Cut twice"); n != 1 {
		t.Fatalf("%d notes after the push sent again, want 1", n)
	}
}

// TestPullWhoseSnapshotDiesIsUnavailable: a pull whose connection to
// PostgreSQL dies in the middle of its snapshot (the database restarted,
// the network reset it) is answered 503 unavailable with Retry-After,
// as a write that died before its COMMIT is, so that the device goes
// again at once rather than after the backoff of a server's failure; the
// pull sent again is answered whole. It was answered 500.
func TestPullWhoseSnapshotDiesIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dbURL, link := behindLink(t)
	st, err := pgstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cut := &storetest.ReadCut{Store: st, Link: link}
	srv := servertest.Start(t, func(o *server.Options) { o.Store = cut })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Read cut")
	alice.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "Read cut"}))
	cut.Cuts.Store(1)
	_, err = alice.Pull(ctx, 0, 0)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != protocol.CodeUnavailable || se.RetryAfter == "" {
		t.Fatalf("a pull whose snapshot's connection died: %v, want 503 unavailable with Retry-After", err)
	}
	if n := cut.Fired.Load(); n != 1 {
		t.Fatalf("%d reads cut, want 1", n)
	}
	if n := notesTitled(t, alice, "Read cut"); n != 1 {
		t.Fatalf("%d notes in the pull sent again, want 1", n)
	}
}
