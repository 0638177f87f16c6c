// Package faultproxy is an HTTP-aware reverse proxy on 127.0.0.1 that
// injects the faults a sync client meets in the field: connections reset
// before the server sees a request, answers lost after the server
// committed, latency, a slow link (bandwidth limit), 503s, duplicated requests, event streams cut, and a
// server that disappears and comes back on the same address. Tests put it
// between clients and a real server.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy does to one request.
type Fault string

// The faults.
const (
	Pass        Fault = "pass"        // forward untouched
	Reset       Fault = "reset"       // reset the client's connection before forwarding
	Drop        Fault = "drop"        // forward, read the server's whole answer, then reset the client's connection
	Unavailable Fault = "unavailable" // answer 503 without forwarding
	Duplicate   Fault = "duplicate"   // forward the request twice; the client gets the second answer
	CloseStream Fault = "close"       // event stream: cut it after the first event (or at once when random)
	BadRequest  Fault = "bad-request" // answer 400 without forwarding, as to a malformed request
	ServerError Fault = "error"       // answer 500 without forwarding, as a server bug does
	RateLimited Fault = "rate-limit"  // answer 429 with Retry-After: 1 without forwarding
)

// Rule picks the fault of a request from its path and body; ok false
// leaves the request to the queued faults and the odds.
type Rule func(path string, body []byte) (f Fault, ok bool)

// Random sets the odds of each fault for requests that have no queued
// fault. Probabilities are checked in the order of the fields; the rest passes.
type Random struct {
	Reset, Drop, Unavailable, Duplicate float64
	// CloseStream is the chance that an event stream is cut after a random
	// time up to StreamLife.
	CloseStream float64
	StreamLife  time.Duration
	// MaxLatency adds a uniform delay in [0, MaxLatency) before forwarding.
	MaxLatency time.Duration
}

type queued struct {
	prefix string
	fault  Fault
}

// Proxy forwards HTTP requests to a target server, injecting faults.
type Proxy struct {
	// URL is where clients connect: http://127.0.0.1:PORT.
	URL  string
	addr string
	rt   *http.Transport

	mu      sync.Mutex
	target  *url.URL
	srv     *http.Server
	ln      net.Listener
	queue   []queued
	random  Random
	rnd     *rand.Rand
	latency time.Duration
	bw      int // bytes a second each way; 0 for no limit
	maxUp   int // a request body larger than this stalls; 0 for no limit
	maxDown int // an answer larger than this stalls after this many bytes; 0 for no limit
	rule    Rule
	counts  map[string]int
	faults  map[Fault]int
	streams map[*stream]struct{}
	closed  bool
}

// New starts a proxy on a free port of 127.0.0.1 forwarding to target
// (http://host:port).
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad target %q", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	rt := http.DefaultTransport.(*http.Transport).Clone()
	rt.DisableCompression = true
	p := &Proxy{
		URL:     "http://" + ln.Addr().String(),
		addr:    ln.Addr().String(),
		rt:      rt,
		target:  u,
		rnd:     rand.New(rand.NewPCG(1, 2)),
		counts:  map[string]int{},
		faults:  map[Fault]int{},
		streams: map[*stream]struct{}{},
	}
	p.serve(ln)
	return p, nil
}

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.srv, p.ln = srv, ln
	go srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
}

// SetTarget points the proxy at another server address.
func (p *Proxy) SetTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("faultproxy: bad target %q", target)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = u
	return nil
}

// Inject queues faults for the next requests whose path starts with
// prefix ("" matches every request), one fault per request, in order.
func (p *Proxy) Inject(prefix string, faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range faults {
		p.queue = append(p.queue, queued{prefix, f})
	}
}

// SetRandom draws faults for unqueued requests with the given odds from a
// source seeded with seed, so a run can be replayed.
func (p *Proxy) SetRandom(seed uint64, r Random) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.random = r
	p.rnd = rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
}

// SetRule installs a rule consulted before the queue and the odds (nil removes it).
func (p *Proxy) SetRule(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = r
}

// SetLatency delays every request by d before forwarding.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// SetBandwidth limits every request body and answer (event streams
// included) to bytesPerSec each way, as a slow link does; 0 lifts it.
// A request body is held for as long as it takes to come up before it is
// forwarded, so a client that gives up first is never heard.
func (p *Proxy) SetBandwidth(bytesPerSec int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bw = max(bytesPerSec, 0)
}

// SetStallAbove makes the link stall on anything larger than it carries
// before it drops, as a hotspot that loses every long transfer: a request
// body over up bytes is held and never forwarded (the server hears
// nothing), and an answer over down bytes stops after down bytes; either
// waits until the client gives up. 0 lifts a limit. Event streams are
// not affected.
func (p *Proxy) SetStallAbove(up, down int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxUp, p.maxDown = max(up, 0), max(down, 0)
}

// Stop closes the listening socket and every connection: clients see
// "connection refused", as when the server is down.
func (p *Proxy) Stop() {
	p.mu.Lock()
	srv, ln := p.srv, p.ln
	p.srv, p.ln = nil, nil
	p.mu.Unlock()
	if srv != nil {
		// Close the socket ourselves: Serve may not have taken it yet.
		ln.Close()
		srv.Close()
	}
	p.CloseStreams()
}

// Start listens again on the same address after Stop.
func (p *Proxy) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrStopped
	}
	if p.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was just released; on a busy machine it may linger briefly.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Requests counts the requests received whose path starts with prefix
// ("" counts all), faulted or not.
func (p *Proxy) Requests(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for path, c := range p.counts {
		if strings.HasPrefix(path, prefix) {
			n += c
		}
	}
	return n
}

// Faults counts the faults injected so far, by kind.
func (p *Proxy) Faults() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int, len(p.faults))
	for k, v := range p.faults {
		out[k] = v
	}
	return out
}

// Close stops the proxy for good.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Stop()
	p.rt.CloseIdleConnections()
	return nil
}

// ServeHTTP forwards one request, applying its fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		reset(w)
		return
	}
	fault, latency, life := p.decide(r, body)
	p.mu.Lock()
	bw, maxUp, maxDown := p.bw, p.maxUp, p.maxDown
	p.mu.Unlock()
	if sleep(r.Context(), latency) != nil || Wait(r.Context(), len(body), bw) != nil {
		return
	}
	if maxUp > 0 && len(body) > maxUp && !isStream(r) {
		<-r.Context().Done() // the body never makes it up
		return
	}
	switch fault {
	case Reset:
		reset(w)
		return
	case Unavailable:
		writeError(w, http.StatusServiceUnavailable, "unavailable", "The server is unavailable; try again shortly.")
		return
	case BadRequest:
		writeError(w, http.StatusBadRequest, "bad_request", "The request is malformed.")
		return
	case ServerError:
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong on the server.")
		return
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests; slow down.")
		return
	}
	if fault == Duplicate {
		if resp, err := p.forward(r, body); err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // the first answer is thrown away on purpose
			resp.Body.Close()
		}
	}
	resp, err := p.forward(r, body)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		writeError(w, http.StatusBadGateway, "unavailable", "The server cannot be reached.")
		return
	}
	defer resp.Body.Close()
	if fault == Drop {
		// Let the server finish (it has committed once it answers), then
		// lose the answer on the way back.
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // the answer is lost on purpose
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		p.pipeStream(w, r, resp, fault, life, bw)
		return
	}
	rc := http.NewResponseController(w)
	if maxDown > 0 {
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if len(data) > maxDown {
			// Past maxDown bytes the answer stops coming, until the
			// client gives up on it.
			Throttle(r.Context(), w, bw, rc.Flush).Write(data[:maxDown]) //nolint:errcheck // cut on purpose
			rc.Flush()                                                   //nolint:errcheck // cut on purpose
			<-r.Context().Done()
			panic(http.ErrAbortHandler)
		}
		Throttle(r.Context(), w, bw, rc.Flush).Write(data) //nolint:errcheck // a client gone mid-answer is its own fault
		return
	}
	io.Copy(Throttle(r.Context(), w, bw, rc.Flush), resp.Body) //nolint:errcheck // a client gone mid-answer is its own fault
}

func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	p.mu.Lock()
	target := *p.target
	p.mu.Unlock()
	u := *r.URL
	u.Scheme, u.Host = target.Scheme, target.Host
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Connection")
	return p.rt.RoundTrip(out)
}

// maxBody bounds a forwarded request body: above the protocol's limit, so
// that the server, not the proxy, refuses oversize bodies.
const maxBody = 64 << 20

// ErrStopped is returned by Start after Close.
var ErrStopped = errors.New("faultproxy: closed")
