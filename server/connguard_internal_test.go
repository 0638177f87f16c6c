package server

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
)

// fakeConn is a connection from addr that notes its Close.
type fakeConn struct {
	net.Conn
	addr   *net.TCPAddr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.addr }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

// TestConnGuardChoosesItsVictim: at the limit, the guard closes an idle
// connection of the address holding the most, the one idle longest,
// never an active one (a stream, a push under way); with none idle, the
// new connection is refused.
func TestConnGuardChoosesItsVictim(t *testing.T) {
	var evicted int
	g := newConnGuard(7, func() {}, func() { evicted++ })
	conn := func(ip string, st http.ConnState) *fakeConn {
		c := &fakeConn{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
		g.state(c, http.StateNew)
		if st != http.StateNew {
			g.state(c, st)
		}
		return c
	}
	device := []*fakeConn{conn("10.0.0.1", http.StateActive), conn("10.0.0.1", http.StateIdle)}
	crowd := []*fakeConn{conn("10.0.0.9", http.StateIdle), conn("10.0.0.9", http.StateIdle), conn("10.0.0.9", http.StateActive),
		conn("10.0.0.9", http.StateIdle), conn("10.0.0.9", http.StateIdle)}
	// Each admit makes room for a new active connection from an address
	// of its own. The crowd's idle ones go first, oldest first; once it
	// holds no more than the device, the one idle longer goes.
	for i, want := range []*fakeConn{crowd[0], crowd[1], crowd[3], device[1], crowd[4]} {
		if !g.admit() || !want.closed || evicted != i+1 {
			t.Fatalf("admit %d: want %v's connection closed (evictions %d)", i, want.addr, evicted)
		}
		g.state(want, http.StateClosed)
		conn(fmt.Sprintf("10.0.1.%d", i), http.StateActive)
		for _, c := range append(slices.Clone(device), crowd...) {
			if c.closed && c != want && !slices.Contains([]*fakeConn{crowd[0], crowd[1], crowd[3], device[1], crowd[4]}[:i], c) {
				t.Fatalf("admit %d closed %v out of turn", i, c.addr)
			}
		}
	}
	if device[0].closed || crowd[2].closed {
		t.Error("an active connection was closed")
	}
	if g.admit() {
		t.Fatal("with every connection active, a new one was admitted")
	}
}
