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
