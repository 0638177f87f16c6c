package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casefile/internal/faultproxy"
	"casefile/internal/pullpack"
	"casefile/protocol"
)

// fault is what the network does to one request of a client.
type fault string

// The faults a request can meet. Those the shared faultproxy knows are
// handed to it; the link does the others itself.
const (
	fPass        fault = "pass"
	fReset       fault = "reset"      // connection reset before the server sees the request
	fResetMid    fault = "reset-mid"  // the answer is cut halfway through
	fDrop        fault = "drop"       // the server commits, the answer is lost
	fDuplicate   fault = "duplicate"  // the request reaches the server twice
	fDelay       fault = "delay"      // the request waits before it is forwarded
	fUnavailable fault = "503"        // the proxy answers 503
	fServerError fault = "500"        // the proxy answers 500, as a server bug does
	fRateLimited fault = "429"        // the proxy answers 429 with Retry-After
	fStreamCut   fault = "stream-cut" // an event stream is cut after its first event
	fOffline     fault = "offline"    // the client has no network: every request is reset
	fSlow        fault = "slow"       // the link crawls both ways at a drawn bandwidth
	fStallUp     fault = "stall-up"   // the link crawls so on the way up that the device gives up before the server hears it
	fStallDown   fault = "stall-down" // the server commits; a little of the answer crawls down, then nothing, until the device gives up waiting
	fCrawl       fault = "crawl"      // the answer crawls down, bytes always moving, for longer than the request timeout: a default page does not fit in it
)

// Bandwidth of the slow faults. A slow link carries a request at the
// drawn rate, but never for longer than slowCap, so that it ends well
// inside the device's request timeout (the stalls cover the other side).
// A stall trickles at stallRate and never finishes: the device's
// request timeout ends it.
const (
	minSlowRate = 32 << 10  // bytes a second
	maxSlowRate = 512 << 10 // bytes a second
	slowCap     = 150 * time.Millisecond
	stallRate   = 2 << 10
	// stallTrickle is the most a stalled answer carries before it stops:
	// the device's timeout is on silence, so it starts after the trickle.
	stallTrickle = 512
	// crawlFactor is how many request timeouts a crawling answer takes
	// to come down, whatever its size: more than one, so that on a link
	// like this no page fits in the timeout if the timeout is on duration.
	crawlFactor = 1.5
	// stallGuard ends a stall whose device somehow never gives up, so a
	// broken timeout fails the scenario instead of hanging it.
	stallGuard = 20 * time.Second
)

// draw is the fate of one request: its fault and the fault's measure.
type draw struct {
	f     fault
	delay time.Duration // fDelay
	rate  int           // fSlow: bytes a second
}

// slowRate is the rate at which n bytes cross a slow link of rate r:
// r, or faster when r would take longer than slowCap.
func slowRate(r, n int) int {
	return max(r, int(int64(n)*int64(time.Second)/int64(slowCap)))
}

// proxyFault maps the faults the faultproxy injects.
var proxyFault = map[fault]faultproxy.Fault{
	fReset:       faultproxy.Reset,
	fDrop:        faultproxy.Drop,
	fDuplicate:   faultproxy.Duplicate,
	fUnavailable: faultproxy.Unavailable,
	fServerError: faultproxy.ServerError,
	fRateLimited: faultproxy.RateLimited,
	fStreamCut:   faultproxy.CloseStream,
}

// link is one client's network: a small HTTP front on 127.0.0.1 in front
// of the scenario's shared faultproxy. Each request asks the scenario's
// seeded stream for its fault, so a run replays exactly from its seed.
type link struct {
	w    *world
	name string
	fp   *faultproxy.Proxy
	rt   *http.Transport
	srv  *http.Server
	URL  string
	// client is the HTTP client of the link's device. Keep-alive is on,
	// as in the field: a GET the transport retries on a reused connection
	// draws its fault again, in the same order every run.
	client *http.Client
	// full: the link drops the header that asks for lean push answers, as
	// a server older than them ignores it, so this device gets every
	// answer in full (fullAnswers).
	full bool
	// jsonPulls: the link drops the pull's Accept header, as a server older
	// than packed pages ignores it, so this device reads its pages as JSON
	// (drawn as fullAnswers is, apart from it).
	jsonPulls bool
	// quietBound: the link drops the answer bound from push answers
	// (protocol.HeaderAnswerBytes), as a server older than it says none,
	// so this device splits batches refused as answer_too_large in halves
	// instead of sizing them by the bound (drawn apart from the others).
	quietBound bool

	mu sync.Mutex
	// device is the database behind the link's device while the scenario
	// syncs it (setDevice): the one a second process may open meanwhile.
	device   *besideDevice
	offline  bool
	requests int
	stuck    int // stalls the device never gave up on
	// abandoned counts crawling answers the device gave up on while their
	// bytes were still moving; crawled is the highest cursor of a pull
	// page that crawled down to the end, for the next check.
	abandoned int
	crawled   int64
	// cut are the exchanges (by exchangeHeader) whose crawling answer the
	// device ended while its bytes were moving, to be judged by why the
	// device ended them (ended): on silence counts against it, on purpose
	// (a page asked ahead that is no longer wanted) does not.
	cut      []int64
	ended    map[int64]ending
	exchange int64
	// whole are the pull pages the link wrote to the end, to be judged
	// by how much of each the device read (read, by exchange): a page
	// whose last bytes waited in the socket for a device that had given
	// up on it (a machine too busy to schedule the device) did not reach
	// it.
	whole []wholePage
	read  map[int64]int64
	// forced holds the faults the next requests of a path meet, in order,
	// whatever the stream would draw (a step that needs them right there).
	forced map[string][]fault
}

func newLink(w *world, name string, fp *faultproxy.Proxy) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{
		w:    w,
		name: name,
		fp:   fp,
		// The fault is drawn before this hop, so a connection the transport
		// retries on its own draws nothing: keep-alive is safe here (the
		// clients' side of the link has none).
		rt:         &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
		URL:        "http://" + ln.Addr().String(),
		full:       fullAnswers(w.seed, name),
		jsonPulls:  byName(w.seed, "json pulls/"+name),
		quietBound: byName(w.seed, "quiet bound/"+name),
	}
	l.client = &http.Client{Transport: &tagged{l: l, rt: &http.Transport{MaxIdleConnsPerHost: 2}}}
	l.srv = &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	go l.srv.Serve(ln) //nolint:errcheck // ErrServerClosed at close
	return l, nil
}

// fullAnswers says whether the link of the device name, in the scenario
// of seed, drops the ask for lean push answers: about a third of the
// devices, drawn from the seed and the name rather than the stream, so
// that other draws run as before.
func fullAnswers(seed uint64, name string) bool { return byName(seed, name) }

// byName is true for about a third of the names, drawn from the seed and
// the name.
func byName(seed uint64, name string) bool {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/%s", seed, name)
	return h.Sum64()%3 == 0
}

func (l *link) close() {
	l.srv.Close()
	l.rt.CloseIdleConnections()
	l.client.Transport.(*tagged).rt.CloseIdleConnections()
}

// force makes the next requests of path meet fs, one each, in order.
func (l *link) force(path string, fs ...fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.forced == nil {
		l.forced = map[string][]fault{}
	}
	l.forced[path] = append(l.forced[path], fs...)
}

// unforce drops the faults forced on the next requests that none has met
// yet, and returns how many there were. A step forces faults to meet them
// right there; left over (its syncs stopped before those requests), they
// would hit requests of a later step, even after the network healed.
func (l *link) unforce() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, fs := range l.forced {
		n += len(fs)
	}
	l.forced = nil
	return n
}

// setDevice names the database of the link's device, nil for none.
func (l *link) setDevice(d *besideDevice) {
	l.mu.Lock()
	l.device = d
	l.mu.Unlock()
}

func (l *link) setOffline(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.offline = on
}

// stalledForever returns how many stalls outlasted stallGuard: each is a
// request timeout that did not fire.
func (l *link) stalledForever() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stuck
}

// wholePage is a pull page the link wrote to the end: its exchange, its
// length and its cursor.
type wholePage struct {
	id, size, cursor int64
}

// takeCrawl returns and clears what crawling answers left to check: how
// many the device gave up on, and the highest cursor of a pull page that
// came down whole.
func (l *link) takeCrawl() (abandoned int, cursor int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.whole {
		if l.read[p.id] >= p.size {
			l.crawled = max(l.crawled, p.cursor)
		} else {
			l.w.stats.inc(statCrawlUnread, 1)
		}
	}
	l.whole = l.whole[:0]
	clear(l.read)
	for _, id := range l.cut {
		e, known := l.ended[id]
		delete(l.ended, id)
		switch {
		case known && !errors.Is(e.cause, context.DeadlineExceeded):
			// The device ended it on purpose (a caller's cancellation,
			// not its silence watchdog, whose cause is a deadline).
			l.w.stats.inc("crawling answers the device no longer wanted", 1)
			continue
		case known && e.quiet >= requestTimeout:
			// The device's own reads had brought nothing for a whole
			// request timeout while this side kept writing: the bytes
			// waited for a reader that was not running (a machine too
			// busy to schedule the device). A watchdog on duration
			// rather than silence gives up while reads still bring
			// bytes, and is still counted.
			l.w.stats.inc("crawling answers given up by a device starved of a core", 1)
			continue
		}
		l.abandoned++
	}
	l.cut = l.cut[:0]
	abandoned, cursor = l.abandoned, l.crawled
	l.abandoned, l.crawled = 0, 0
	return abandoned, cursor
}

// exchangeHeader numbers each exchange of a link's device, so that the
// link can ask why the device ended one.
const exchangeHeader = "Sim-Exchange"

// tagged is the device's transport: it numbers each exchange and notes
// why the device ended one early (its context's cause) and how long its
// reads had brought nothing by then, for takeCrawl.
type tagged struct {
	l  *link
	rt *http.Transport
}

func (t *tagged) RoundTrip(req *http.Request) (*http.Response, error) {
	t.l.mu.Lock()
	t.l.exchange++
	id := t.l.exchange
	t.l.mu.Unlock()
	req = req.Clone(req.Context())
	req.Header.Set(exchangeHeader, strconv.FormatInt(id, 10))
	sent := time.Now()
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		t.note(req, id, sent)
		return nil, err
	}
	b := &taggedBody{ReadCloser: resp.Body, t: t, req: req, id: id}
	b.last.Store(time.Now().UnixNano())
	resp.Body = b
	return resp, nil
}

// ending is why the device ended an exchange (its context's cause) and
// how long its reads had brought nothing by then.
type ending struct {
	cause error
	quiet time.Duration
}

// note records why req's context ended, if it has, and how long it had
// been since last, the device's last progress on it.
func (t *tagged) note(req *http.Request, id int64, last time.Time) {
	if cause := context.Cause(req.Context()); cause != nil {
		t.l.mu.Lock()
		if t.l.ended == nil {
			t.l.ended = map[int64]ending{}
		}
		t.l.ended[id] = ending{cause: cause, quiet: time.Since(last)}
		t.l.mu.Unlock()
	}
}

type taggedBody struct {
	io.ReadCloser
	t    *tagged
	req  *http.Request
	id   int64
	last atomic.Int64 // unix nanoseconds of the answer's headers or its last read that brought bytes
}

func (b *taggedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.last.Store(time.Now().UnixNano())
		b.t.l.mu.Lock()
		if b.t.l.read == nil {
			b.t.l.read = map[int64]int64{}
		}
		b.t.l.read[b.id] += int64(n)
		b.t.l.mu.Unlock()
	}
	if err != nil && err != io.EOF {
		b.t.note(b.req, b.id, time.Unix(0, b.last.Load()))
	}
	return n, err
}

func (b *taggedBody) Close() error {
	b.t.note(b.req, b.id, time.Unix(0, b.last.Load()))
	return b.ReadCloser.Close()
}

// crawl writes data at a rate that takes crawlFactor request timeouts,
// a chunk every few milliseconds, and notes whether the device read it
// to the end. start is when the request reached the link: the server's
// time before the first byte counts as silence too.
func (l *link) crawl(w http.ResponseWriter, r *http.Request, start time.Time, status int, data []byte) {
	rate := max(1, int(float64(len(data))/(crawlFactor*requestTimeout.Seconds())))
	gw := &gapWriter{w: w, last: start}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	gw.note()
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	_, err := faultproxy.Throttle(r.Context(), gw, rate, rc.Flush).Write(data)
	if err == nil {
		err = rc.Flush()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || r.Context().Err() != nil {
		if gw.widest < crawlSilence {
			id, perr := strconv.ParseInt(r.Header.Get(exchangeHeader), 10, 64)
			if perr != nil {
				l.abandoned++ // not the device's transport: judged as before
			} else {
				l.cut = append(l.cut, id)
			}
		} else {
			// This side went quiet for long (a machine too busy to
			// schedule the link): the device's timeout had cause.
			l.w.stats.inc("crawling answers cut by a busy machine", 1)
		}
		return
	}
	l.w.stats.inc("crawled answers read whole", 1)
	if r.URL.Path == protocol.PathPull && status == http.StatusOK {
		cursor, err := pageCursor(w.Header(), data)
		if err != nil {
			l.w.t.Errorf("%s: a pull page the device read whole: %v", l.name, err)
			return
		}
		id, err := strconv.ParseInt(r.Header.Get(exchangeHeader), 10, 64)
		if err != nil {
			l.crawled = max(l.crawled, cursor) // not the device's transport: judged as before
			return
		}
		l.whole = append(l.whole, wholePage{id: id, size: int64(len(data)), cursor: cursor})
	}
}

// pageCursor is the cursor of a pull page as the link passed it on, in
// either form, compressed or not.
func pageCursor(h http.Header, data []byte) (int64, error) {
	page, err := readPage(h, data)
	return page.Cursor, err
}

// readPage decodes a pull page as the link passed it on, in either form,
// compressed or not.
func readPage(h http.Header, data []byte) (protocol.PullResponse, error) {
	if h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return protocol.PullResponse{}, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return protocol.PullResponse{}, err
		}
	}
	if h.Get("Content-Type") == protocol.ContentTypePullPacked {
		return pullpack.Read(data)
	}
	var page protocol.PullResponse
	err := json.Unmarshal(data, &page)
	return page, err
}

// noteShortPage counts a pull page that says more remains and holds
// fewer records than its request asked for: one the server's byte budget
// cut (world.pullPageBytes).
func (l *link) noteShortPage(r *http.Request, h http.Header, data []byte) {
	limit := protocol.DefaultPullPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			l.w.t.Errorf("%s: a pull asked for %q records", l.name, v)
			return
		}
		limit = min(n, protocol.MaxPullPage)
	}
	page, err := readPage(h, data)
	if err != nil {
		l.w.t.Errorf("%s: a pull page the server answered: %v", l.name, err)
		return
	}
	if page.More && len(page.Records) < limit {
		l.w.stats.inc(statShortPages, 1)
	}
}

// noteAnswerTooLarge counts a push the server refused as answer_too_large;
// another 413 of a push is a device's fault (it sizes its requests).
func (l *link) noteAnswerTooLarge(h http.Header, data []byte) {
	if h.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			data, err = io.ReadAll(zr)
		}
		if err != nil {
			l.w.t.Errorf("%s: a push answered 413: %v", l.name, err)
			return
		}
	}
	var er protocol.ErrorResponse
	if err := json.Unmarshal(data, &er); err != nil || er.Error.Code != protocol.CodeAnswerTooLarge {
		l.w.t.Errorf("%s: a push answered 413 %q (%v)", l.name, er.Error.Code, err)
		return
	}
	l.w.stats.inc(statAnswerTooLarge, 1)
	if l.quietBound {
		l.w.stats.inc(statAnswerTooLargeQuiet, 1)
	}
}

// crawlSilence is the longest this side of a crawling answer may go
// without writing for the device's giving up to count against it: half
// the request timeout, so that a busy machine's pauses are not blamed on
// the device.
const crawlSilence = requestTimeout / 2

// gapWriter notes the widest pause between writes.
type gapWriter struct {
	w      io.Writer
	last   time.Time
	widest time.Duration
}

func (g *gapWriter) note() {
	now := time.Now()
	g.widest = max(g.widest, now.Sub(g.last))
	g.last = now
}

func (g *gapWriter) Write(p []byte) (int, error) {
	g.note()
	return g.w.Write(p)
}

// count returns how many requests reached the link.
func (l *link) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests
}

func isStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// ServeHTTP applies the drawn fault to one request.
func (l *link) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		abort(w)
		return
	}
	l.mu.Lock()
	l.requests++
	offline := l.offline
	var forced fault
	queue := l.forced[r.URL.Path]
	isForced := len(queue) > 0
	if isForced {
		forced, l.forced[r.URL.Path] = queue[0], queue[1:]
	}
	l.mu.Unlock()
	var d draw
	if isForced && !offline {
		d = draw{f: forced}
		l.w.stats.inc("fault: "+string(forced), 1)
		l.w.tracef("%s %s %s (forced)", l.name, r.URL.Path, forced)
	} else {
		d = l.w.decide(l.name, r.URL.Path, isStream(r), offline)
	}
	f := d.f
	start := time.Now()
	switch f {
	case fOffline:
		abort(w)
		return
	case fDelay:
		time.Sleep(d.delay)
	case fSlow:
		if faultproxy.Wait(r.Context(), len(body), slowRate(d.rate, len(body))) != nil {
			abort(w)
			return
		}
	case fStallUp:
		// The body crawls up and never arrives: the server hears nothing.
		l.stall(r)
		abort(w)
		return
	default:
		if pf, ok := proxyFault[f]; ok {
			l.fp.Inject("", pf)
		}
	}
	if r.URL.Path == protocol.PathPush || r.URL.Path == protocol.PathPull {
		l.mu.Lock()
		dev := l.device
		l.mu.Unlock()
		switch {
		case dev == nil:
		case r.URL.Path == protocol.PathPush:
			l.w.pushArrived(dev, r, body)
		default:
			l.w.pullArrived(dev)
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, l.fp.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		abort(w)
		return
	}
	out.Header = r.Header.Clone()
	if r.URL.Path == protocol.PathPull {
		if l.jsonPulls {
			out.Header.Del("Accept")
			l.w.stats.inc("contract: pulls answered in JSON, as a server older than packed pages answers", 1)
		} else {
			l.w.stats.inc("contract: pulls asking for packed pages", 1)
		}
	}
	if r.URL.Path == protocol.PathPush && r.Header.Get(protocol.HeaderPushAnswer) != "" {
		if l.full {
			out.Header.Del(protocol.HeaderPushAnswer)
			l.w.stats.inc("contract: pushes asking for lean answers that a server older than them ignored", 1)
		} else {
			l.w.stats.inc("contract: pushes asking for lean answers", 1)
		}
	}
	resp, err := l.rt.RoundTrip(out)
	if err != nil {
		// The faultproxy reset the connection (reset, drop) or the server
		// is down: the client sees its connection reset.
		abort(w)
		return
	}
	defer resp.Body.Close()
	if l.quietBound {
		resp.Header.Del(protocol.HeaderAnswerBytes)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		w.WriteHeader(resp.StatusCode)
		pipe(w, resp.Body)
		return
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		abort(w)
		return
	}
	if r.URL.Path == protocol.PathPull && resp.StatusCode == http.StatusOK && l.w.pullPageBytes > 0 {
		l.noteShortPage(r, resp.Header, data)
	}
	if r.URL.Path == protocol.PathPush && resp.StatusCode == http.StatusRequestEntityTooLarge {
		l.noteAnswerTooLarge(resp.Header, data)
	}
	rc := http.NewResponseController(w)
	switch f {
	case fResetMid:
		// A device asks for the next page as soon as a page's headers name
		// it; whether that request reaches the link before the device
		// reads the reset and gives it up is a race, which would draw a
		// fault (or not) at random and break replays. Without the header
		// the device asks for nothing ahead of a page cut short.
		w.Header().Del(protocol.HeaderPullNext)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(resp.StatusCode)
		w.Write(data[:len(data)/2]) //nolint:errcheck // cut on purpose
		rc.Flush()                  //nolint:errcheck // cut on purpose
		panic(http.ErrAbortHandler)
	case fStallDown:
		// All but the last byte crawl down, then nothing: the device's
		// request timeout gives up on an answer the server committed.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(resp.StatusCode)
		faultproxy.Throttle(r.Context(), w, stallRate, rc.Flush).Write(data[:min(max(len(data)-1, 0), stallTrickle)]) //nolint:errcheck // cut on purpose
		l.stall(r)
		panic(http.ErrAbortHandler)
	case fCrawl:
		l.crawl(w, r, start, resp.StatusCode, data)
		return
	case fSlow:
		w.WriteHeader(resp.StatusCode)
		faultproxy.Throttle(r.Context(), w, slowRate(d.rate, len(data)), rc.Flush).Write(data) //nolint:errcheck // a client gone is its own fault
		return
	case fPass:
		l.w.stats.max("slowest clean exchange (ms)", int(time.Since(start).Milliseconds()))
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data) //nolint:errcheck // a client gone is its own fault
}

// stall holds a request until its device gives up on it.
func (l *link) stall(r *http.Request) {
	t := time.NewTimer(stallGuard)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
		l.mu.Lock()
		l.stuck++
		l.mu.Unlock()
	}
}

// pipe copies an event stream, flushing each chunk.
func pipe(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	rc.Flush() //nolint:errcheck // noticed on the next write
	buf := make([]byte, 4096)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush() //nolint:errcheck // see above
		}
		if err != nil {
			return
		}
	}
}

// abort resets the client's connection, as a network failure does.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // a FIN is a failure too
	}
	conn.Close()
}
