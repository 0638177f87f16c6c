package server

import (
	"net"
	"net/http"
	"sync"
	"syscall"
)

// Connection limits. Every connection holds a file descriptor; a peer
// that opens thousands and leaves them idle (a request each, then
// nothing, for the 120 s idle timeout) used to take the process to its
// descriptor limit, after which accept failed in a loop and no one could
// connect, nor could the store open a file.
const (
	// fdReserve is how many descriptors are kept for what is not a
	// client's connection: the store's files, the file store, logs,
	// the metrics listener, PostgreSQL's connections.
	fdReserve = 256
	// minConnLimit is the least limit the guard sets, whatever the
	// process's descriptor limit says.
	minConnLimit = 64
)

// connLimit returns how many client connections may be open at once:
// want when it is positive and below what the descriptor limit allows,
// else the descriptor limit less fdReserve.
func connLimit(want int) int {
	const most = 1 << 20
	allowed := most
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < most {
		allowed = int(l.Cur) // #nosec G115 -- below 1<<20, checked above
	}
	allowed = max(minConnLimit, allowed-fdReserve)
	if want > 0 {
		return min(want, allowed)
	}
	return allowed
}

// connGuard keeps the connections open below a limit. When a new one
// would pass it, an idle or not yet speaking connection of the address
// holding the most is closed to make room (a client reconnects when it
// next has something to say); when none can be closed, the new one is.
// So a peer holding idle connections by the thousand loses its own, and
// the devices streaming events and pushing keep theirs and can connect.
type connGuard struct {
	limit            int
	refused, evicted func() // count connections refused and evicted

	mu     sync.Mutex
	total  int
	ticks  uint64 // counts state changes: an order finer than a clock's
	byAddr map[string]map[net.Conn]*connInfo
	conns  map[net.Conn]*connInfo // every connection open, by itself
}

// connInfo is what the guard knows of one connection.
type connInfo struct {
	addr  string // its peer's key, connAddr
	state http.ConnState
	since uint64 // when it entered its state, in the guard's ticks
}

func newConnGuard(limit int, refused, evicted func()) *connGuard {
	return &connGuard{limit: limit, refused: refused, evicted: evicted,
		byAddr: map[string]map[net.Conn]*connInfo{}, conns: map[net.Conn]*connInfo{}}
}

// connAddr is the key of a connection's peer: the IP, and for IPv6 its
// /64, as the login limits count it.
func connAddr(c net.Conn) string {
	return clientAddr(&http.Request{RemoteAddr: c.RemoteAddr().String()})
}

// state is the http.Server's ConnState hook. A connection's peer key is
// worked out once, when it is new (outside the lock), and kept with it:
// a request changes its connection's state twice.
func (g *connGuard) state(c net.Conn, st http.ConnState) {
	var addr string
	if st == http.StateNew {
		addr = connAddr(c)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ticks++
	ci := g.conns[c]
	switch st {
	case http.StateNew:
		if ci != nil {
			ci.state, ci.since = st, g.ticks
			return
		}
		ci = &connInfo{addr: addr, state: st, since: g.ticks}
		byAddr := g.byAddr[addr]
		if byAddr == nil {
			byAddr = map[net.Conn]*connInfo{}
			g.byAddr[addr] = byAddr
		}
		byAddr[c] = ci
		g.conns[c] = ci
		g.total++
	case http.StateClosed, http.StateHijacked:
		if ci == nil {
			return
		}
		delete(g.conns, c)
		byAddr := g.byAddr[ci.addr]
		delete(byAddr, c)
		if len(byAddr) == 0 {
			delete(g.byAddr, ci.addr)
		}
		g.total--
	default:
		if ci != nil {
			ci.state, ci.since = st, g.ticks
		}
	}
}

// admit reports whether a new connection may be served, closing an idle
// one to make room when the limit is reached.
func (g *connGuard) admit() bool {
	g.mu.Lock()
	if g.total < g.limit {
		g.mu.Unlock()
		return true
	}
	victim := g.idlest()
	g.mu.Unlock()
	if victim == nil {
		return false
	}
	// Closed outside the lock: the server's hook for it runs on
	// another goroutine and takes the lock.
	_ = victim.Close()
	g.evicted()
	return true
}

// idlest returns the connection to close for a new one: of the address
// holding the most connections that has one idle or not yet speaking,
// the one longest in that state. It is marked closed at once, so that
// two admits do not pick it both.
func (g *connGuard) idlest() net.Conn {
	var (
		pick  net.Conn
		pinfo *connInfo
		most  int
	)
	for _, conns := range g.byAddr {
		if len(conns) < most {
			continue
		}
		var best net.Conn
		var binfo *connInfo
		for c, ci := range conns {
			if (ci.state == http.StateIdle || ci.state == http.StateNew) && (binfo == nil || ci.since < binfo.since) {
				best, binfo = c, ci
			}
		}
		if best != nil && (len(conns) > most || binfo.since < pinfo.since) {
			pick, pinfo, most = best, binfo, len(conns)
		}
	}
	if pick != nil {
		pinfo.state = http.StateClosed
	}
	return pick
}

// listener returns ln with new connections past the limit refused.
func (g *connGuard) listener(ln net.Listener) net.Listener { return guardedListener{ln, g} }

type guardedListener struct {
	net.Listener
	g *connGuard
}

func (l guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.g.admit() {
			return c, nil
		}
		_ = c.Close()
		l.g.refused()
	}
}
