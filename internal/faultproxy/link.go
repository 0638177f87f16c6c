package faultproxy

import (
	"bytes"
	"fmt"
	"net"
	"sync"
)

// Link is a TCP proxy on 127.0.0.1 for a connection that is not HTTP
// (a server's link to PostgreSQL): it forwards bytes both ways until a
// test cuts its connections (both ends see them close) or severs them
// (they go silent: nothing arrives either way and neither end is told,
// as when a firewall or a NAT forgets a flow or the other host loses
// power). A severed connection stays dead; new connections pass.
// Armed with LoseNextCommit, it cuts the connection that carries
// PostgreSQL's answer to the next COMMIT instead of passing it on: the
// transaction committed, and its client cannot know.
type Link struct {
	// Addr is where clients connect: 127.0.0.1:PORT.
	Addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	flows  map[*flow]struct{}
	closed bool
	done   chan struct{} // closed by Close
	// loseCommit is armed by LoseNextCommit; lost counts its cuts.
	loseCommit bool
	lost       int
	refuse     bool // close new connections at once
	wg         sync.WaitGroup
}

// flow is one proxied connection.
type flow struct {
	client, server net.Conn
	dead           chan struct{} // closed when the flow is severed
	once           sync.Once
	linkDone       <-chan struct{}
}

// NewLink starts a link on a free port of 127.0.0.1 forwarding to target
// (host:port).
func NewLink(target string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	l := &Link{Addr: ln.Addr().String(), target: target, ln: ln, flows: map[*flow]struct{}{}, done: make(chan struct{})}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go l.serve(c)
	}
}

func (l *Link) serve(c net.Conn) {
	defer l.wg.Done()
	s, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	f := &flow{client: c, server: s, dead: make(chan struct{}), linkDone: l.done}
	l.mu.Lock()
	if l.closed || l.refuse {
		l.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	l.flows[f] = struct{}{}
	l.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { f.pipe(s, c, nil); done <- struct{}{} }()
	go func() { f.pipe(c, s, l.commitAnswer); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	<-done
	l.mu.Lock()
	delete(l.flows, f)
	l.mu.Unlock()
}

// pipe copies from src to dst until either fails, dropping every byte
// once the flow is severed. A severed flow's end that closes is not
// passed on either: the pipe then waits for the link to close. A chunk
// that stop reports is not passed on: the pipe ends there.
func (f *flow) pipe(dst, src net.Conn, stop func([]byte) bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && stop != nil && stop(buf[:n]) {
			return
		}
		select {
		case <-f.dead:
			if err != nil {
				<-f.linkDone
				return
			}
			continue
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// commitComplete is PostgreSQL's CommandComplete message for COMMIT: 'C',
// its length (4 + 7) and the tag.
var commitComplete = []byte("C\x00\x00\x00\x0bCOMMIT\x00")

// commitAnswer reports whether chunk, from the server, answers a COMMIT
// while LoseNextCommit is armed, disarming it. (An answer split between
// two reads is missed; on loopback, a message this small never is.)
func (l *Link) commitAnswer(chunk []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loseCommit || !bytes.Contains(chunk, commitComplete) {
		return false
	}
	l.loseCommit = false
	l.lost++
	return true
}

// LoseNextCommit arms the link: the connection that carries the next
// answer to a COMMIT is cut before the answer passes. Disarm undoes it if
// no commit came.
func (l *Link) LoseNextCommit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loseCommit = true
}

// Disarm undoes LoseNextCommit and returns how many commit answers the
// link has lost so far.
func (l *Link) Disarm() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loseCommit = false
	return l.lost
}

// Refuse makes the link close every new connection at once (on) or pass
// them again (off), as a database that takes no connections: down,
// restarting, or at max_connections.
func (l *Link) Refuse(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refuse = on
}

// Cut closes every connection through the link now; both ends see it.
func (l *Link) Cut() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for f := range l.flows {
		f.client.Close()
		f.server.Close()
	}
	return len(l.flows)
}

// Sever makes every connection through the link go silent for good:
// nothing more is delivered either way and neither end is told. New
// connections pass.
func (l *Link) Sever() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for f := range l.flows {
		f.once.Do(func() { close(f.dead); n++ })
	}
	return n
}

// Close stops the link and closes every connection through it.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	for f := range l.flows {
		f.client.Close()
		f.server.Close()
	}
	l.mu.Unlock()
	err := l.ln.Close()
	l.wg.Wait()
	return err
}
