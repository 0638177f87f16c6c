package server_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// stallListener hands out connections whose writes can be stalled, as a
// client that stops reading stalls them once the buffers between are full.
type stallListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]*stallConn // by the client's address
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c}
	l.mu.Lock()
	l.conns[c.RemoteAddr().String()] = sc
	l.mu.Unlock()
	return sc, nil
}

func (l *stallListener) stall(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[client]
	if c == nil {
		return false
	}
	c.mu.Lock()
	c.stalled = true
	c.mu.Unlock()
	return true
}

// stallConn's writes, once stalled, wait for the write deadline and fail
// as a write to a full buffer does.
type stallConn struct {
	net.Conn
	mu       sync.Mutex
	stalled  bool
	deadline time.Time
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	stalled, deadline := c.stalled, c.deadline
	c.mu.Unlock()
	if !stalled {
		return c.Conn.Write(b)
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(time.Hour)
	}
	time.Sleep(time.Until(deadline))
	return 0, os.ErrDeadlineExceeded
}

// TestStalledStreamIsDropped: a stream whose client stopped reading is
// dropped once a poke cannot be written to it, and the other streams go on
// being poked: one stuck client does not stop the pokes.
func TestStalledStreamIsDropped(t *testing.T) {
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Password: server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}, CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &stallListener{Listener: inner, conns: map[string]*stallConn{}}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	url := "http://" + inner.Addr().String()
	if err := srv.AddUser(ctx, "ann", servertest.Password, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	ann, err := servertest.Login(ctx, url, "ann", servertest.Password, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	matter := ann.CreateMatter(t, "Smith v Jones")

	// The stuck stream, on a connection of its own whose address we know.
	var local string
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			local = c.LocalAddr().String()
		}
		return c, err
	}}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, url+protocol.PathEvents, nil)
	req.Header.Set("Authorization", "Bearer "+ann.Token)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	greeted := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == ": connected" {
				close(greeted)
			}
		}
	}()
	<-greeted
	other := stream(t, url, ann.Token, "")
	greeting(t, other)
	if !ln.stall(local) {
		t.Fatalf("no connection from %s", local)
	}

	note := ann.CreateNote(t, matter.ID, "first")
	if got := nextPoke(t, other); got != note.Seq {
		t.Fatalf("the other stream was poked with %d, want %d", got, note.Seq)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the stuck stream was not dropped")
	}
	note = ann.CreateNote(t, matter.ID, "second")
	if got := nextPoke(t, other); got != note.Seq {
		t.Fatalf("after the drop the other stream was poked with %d, want %d", got, note.Seq)
	}
}
