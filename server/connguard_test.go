package server_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// TestIdleConnectionsCannotCrowdOut: a peer holding twice the server's
// connection limit in idle keep-alive connections (a request each, then
// nothing) loses its own to make room, while a device's event stream
// stays open and hears its pushes, and its new connections get in. Before
// the guard, such a peer took the process to its descriptor limit, and
// accept failed in a loop for everyone.
func TestIdleConnectionsCannotCrowdOut(t *testing.T) {
	const limit = 24
	srv := servertest.Start(t, func(o *server.Options) { o.MaxConnections = limit; o.RateLimit = -1 })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Guarded")
	events := stream(t, srv.URL, alice.Token, "")

	host := strings.TrimPrefix(srv.URL, "http://")
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 2 * limit {
		c, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatalf("attacker's connection %d: %v", i, err)
		}
		held = append(held, c)
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			continue // closed already to make room
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
		}
	}
	open := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				open++ // still held by the server
			}
		}
	}
	if open >= limit {
		t.Errorf("the attacker holds %d connections, the limit is %d", open, limit)
	}

	var last int64
	for i := range 5 {
		// Fresh connections each time: the pool's would hide a refusal.
		alice.HTTP.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := alice.Push(ctx, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "still here"}))
		cancel()
		if err != nil {
			t.Fatalf("push %d while the attacker holds its connections: %v", i, err)
		}
		last = resp.Results[0].Record.Seq
	}
	greeting(t, events)
	for seq := int64(0); seq < last; {
		seq = nextPoke(t, events) // fails if the stream was closed to make room
	}
	servertest.Scenario{URL: "/metrics", Status: 200, Contains: []string{"casefile_connections_evicted_total"},
		NotContains: []string{"casefile_connections_evicted_total 0"}}.Test(t, srv.URL)
}
