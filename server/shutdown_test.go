package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

func TestShutdownFinishesInFlightPush(t *testing.T) {
	ctx := context.Background()
	ps := newGateStore(t)
	srv := servertest.Start(t, func(o *server.Options) { o.Store = ps })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "In flight")
	ps.armed.Store(true)
	ops := []model.Op{
		servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "1"}),
		servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "2"}),
		servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "3"}),
	}
	type answer struct {
		resp protocol.PushResponse
		err  error
	}
	pushed := make(chan answer, 1)
	go func() {
		resp, err := alice.Push(ctx, ops...)
		pushed <- answer{resp, err}
	}()
	<-ps.entered
	shut := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		shut <- srv.Shutdown(sctx)
	}()
	// Wait until the server refuses new connections: shutdown has begun
	// while the push is held inside its first op.
	addr := strings.TrimPrefix(srv.URL, "http://")
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	close(ps.release)
	a := <-pushed
	if a.err != nil {
		t.Fatalf("the in-flight push failed: %v", a.err)
	}
	if len(a.resp.Results) != 3 {
		t.Fatalf("push answered %d results, want 3", len(a.resp.Results))
	}
	for _, r := range a.resp.Results {
		if r.Result != model.ResultApplied {
			t.Fatalf("result %+v", r)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if head, err := srv.Head(ctx); err != nil || head != 4 {
		t.Fatalf("head after shutdown = %d, %v; want 4", head, err)
	}
}

// TestShutdownBeforeServe covers a signal that arrives between Open and
// Serve: Serve must not start serving afterwards.
func TestShutdownBeforeServe(t *testing.T) {
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
	}
}

// TestPushGoesOnAfterItsClientLeaves: a push whose client gives up while
// its write waits is still applied, so that the ledger can answer the
// client's retry, and the server counts it as a request in flight until
// its work is done (RequestsInFlight, casefile_http_requests_in_flight):
// that is how a test knows the server is idle.
func TestPushGoesOnAfterItsClientLeaves(t *testing.T) {
	ctx := context.Background()
	ps := newGateStore(t)
	srv := servertest.Start(t, func(o *server.Options) { o.Store = ps })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Left behind")
	if n := srv.RequestsInFlight(); n != 0 {
		t.Fatalf("%d requests in flight on an idle server", n)
	}
	ps.armed.Store(true)
	pctx, cancel := context.WithCancel(ctx)
	pushed := make(chan error, 1)
	go func() {
		_, err := alice.Push(pctx, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "1"}))
		pushed <- err
	}()
	<-ps.entered
	cancel()
	if err := <-pushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("the push whose client left returned %v, want context.Canceled", err)
	}
	if n := srv.RequestsInFlight(); n != 1 {
		t.Fatalf("%d requests in flight while the push's write waits, want 1", n)
	}
	close(ps.release)
	deadline := time.Now().Add(10 * time.Second)
	for srv.RequestsInFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the push is still in flight 10 s after its write was let go")
		}
		time.Sleep(time.Millisecond)
	}
	if head, err := srv.Head(ctx); err != nil || head != 2 {
		t.Fatalf("head after the push = %d, %v; want 2: the push whose client left was applied", head, err)
	}
}
