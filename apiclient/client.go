// Package apiclient speaks the /v1 sync API over HTTP: login, push, pull,
// health and the event stream, and sorts every failed exchange into a
// Class that says what a caller should do about it. The sync engine
// (syncer) drives it; commands that only need to ask the server use it
// directly.
package apiclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"casefile/internal/keep"
	"casefile/internal/pullpack"
	"casefile/protocol"
)

// Timeouts of one exchange; the event stream has none but an idle limit.
// DefaultRequestTimeout is how long an exchange may go without a byte
// moving either way (the server thinking, or a dead link), not how long
// it may take: a slow link that keeps moving finishes.
const (
	DefaultRequestTimeout = 60 * time.Second
	HealthTimeout         = 5 * time.Second
	dialTimeout           = 10 * time.Second
)

// maxAnswerBytes bounds a decoded answer: a full pull page of long texts
// fits, a runaway stream does not.
const maxAnswerBytes = 512 << 20

// Client speaks the /v1 sync API to one server with one bearer token. It is
// safe for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	user    string // whose token it is, sent as protocol.HeaderUser
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time
	schema  string                 // this device's schema fingerprint, sent with every request
	id      string                 // this client's protocol.HeaderClient, on pushes and streams
	gzipUp  atomic.Bool            // the server reads gzip request bodies
	gzips   keep.Few[*gzip.Writer] // compressors kept between request bodies
	// answerBytes is the bound on a push's results the server said last
	// (protocol.HeaderAnswerBytes); 0 until one has.
	answerBytes atomic.Int64
	// fullAnswers: pushes do not ask for lean answers (WithFullPushAnswers).
	fullAnswers bool
}

// NewClient returns a client for the server at base (http://host:port or
// https://…), authenticating with token. A nil hc gets a client with dial
// and header timeouts; opts adjust it.
func NewClient(server, token string, hc *http.Client, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server address %q: use http://host:port or https://host:port", server)
	}
	if hc == nil {
		hc = DefaultHTTPClient()
	}
	c := &Client{base: u, token: token, hc: hc, timeout: DefaultRequestTimeout, now: time.Now, id: newClientID(),
		gzips: keep.New[*gzip.Writer](keptBuffers)}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Option adjusts a Client built by NewClient.
type Option func(*Client)

// WithRequestTimeout sets how long one push, pull or login exchange may go
// without a byte moving (default DefaultRequestTimeout); d <= 0 keeps the
// default.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithUser names the user the token belongs to, as the credentials say.
// Every authenticated request carries it (protocol.HeaderUser), so the
// server refuses a token of anyone else with wrong_user instead of acting
// as its owner while this device shows another user.
func WithUser(name string) Option {
	return func(c *Client) { c.user = name }
}

// WithSchema sends the device's schema fingerprint with every request
// (protocol.HeaderSchema), so that the server explains an op refused
// because the two schemas differ.
func WithSchema(fingerprint string) Option {
	return func(c *Client) { c.schema = fingerprint }
}

// WithFullPushAnswers makes pushes ask for every result in full, as a
// client older than lean answers (protocol.HeaderPushAnswer) does; by
// default they ask for lean ones.
func WithFullPushAnswers() Option {
	return func(c *Client) { c.fullAnswers = true }
}

// WithClock sets the clock that dates Retry-After answers (tests).
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// DefaultHTTPClient returns an HTTP client with dial, TLS and header
// timeouts and no overall timeout (the event stream is long-lived; each
// exchange gets its own deadline).
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = dialTimeout
	t.ResponseHeaderTimeout = DefaultRequestTimeout
	t.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: t}
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// Login asks for a token for one device. It needs no token.
func (c *Client) Login(ctx context.Context, req protocol.LoginRequest) (protocol.LoginResponse, error) {
	var out protocol.LoginResponse
	if err := c.do(ctx, http.MethodPost, protocol.PathLogin, nil, req, &out, c.timeout); err != nil {
		return out, fmt.Errorf("login: %w", err)
	}
	if out.Token == "" {
		return out, fmt.Errorf("login: %w", protocolError("login answer has no token"))
	}
	return out, nil
}

// pullAccept is a pull's Accept header: the packed form, else JSON.
const pullAccept = protocol.ContentTypePullPacked + ", application/json"

// NoMark is the mark of a pull that is not a later page of a full pull.
const NoMark = -1

// Pull fetches one page of changes after cursor; limit 0 lets the server
// choose. mark is the compaction mark a full pull began under, for its
// later pages, or NoMark.
func (c *Client) Pull(ctx context.Context, cursor int64, limit int, mark int64) (protocol.PullResponse, error) {
	return c.PullThen(ctx, cursor, limit, mark, nil)
}

// NextPage is the request for the page after a pull's answer, known from
// the answer's headers before its body (protocol.HeaderPullNext).
type NextPage struct {
	Cursor int64 // the answer's cursor
	Mark   int64 // the answer's compaction mark (compacted_through)
}

// PullThen is Pull that calls next, when a server names the next page in
// its answer's headers, before the answer's body is read; the body must
// then agree (the same cursor and mark, more to come), or the pull fails.
func (c *Client) PullThen(ctx context.Context, cursor int64, limit int, mark int64, next func(NextPage)) (protocol.PullResponse, error) {
	var out protocol.PullResponse
	q := url.Values{"cursor": {strconv.FormatInt(cursor, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if mark != NoMark {
		q.Set(protocol.PullMark, strconv.FormatInt(mark, 10))
	}
	var named *NextPage
	var badNext string
	answered := func(h http.Header) {
		v := h.Get(protocol.HeaderPullNext)
		if v == "" {
			return
		}
		var n NextPage
		if _, err := fmt.Sscanf(v, "%d %d", &n.Cursor, &n.Mark); err != nil || n.Cursor <= cursor || n.Mark < 0 ||
			v != strconv.FormatInt(n.Cursor, 10)+" "+strconv.FormatInt(n.Mark, 10) {
			badNext = v
			return
		}
		named = &n
		if next != nil {
			next(n)
		}
	}
	// The packed form is asked for first; a server older than it answers
	// JSON, which doAnswer reads by its Content-Type.
	hdr := http.Header{"Accept": {pullAccept}}
	if err := c.doAnswer(ctx, http.MethodGet, protocol.PathPull, q, hdr, nil, &out, c.timeout, answered); err != nil {
		return out, fmt.Errorf("pull: %w", err)
	}
	if badNext != "" {
		return out, fmt.Errorf("pull: %w", protocolError("pull names its next page as %q", badNext[:min(len(badNext), 64)]))
	}
	if named != nil && (!out.More || out.Cursor != named.Cursor || out.CompactedThrough != named.Mark) {
		return out, fmt.Errorf("pull: %w", protocolError("pull named its next page after cursor %d and mark %d, but its body says cursor %d, mark %d, more %v",
			named.Cursor, named.Mark, out.Cursor, out.CompactedThrough, out.More))
	}
	if out.Cursor < cursor {
		return out, fmt.Errorf("pull: %w", protocolError("pull cursor went back from %d to %d", cursor, out.Cursor))
	}
	if out.More && out.Cursor == cursor {
		return out, fmt.Errorf("pull: %w", protocolError("pull says more remains but the cursor did not move from %d", cursor))
	}
	return out, nil
}

// Health probes GET /healthz with a short timeout and returns the
// server's head; a nil error means the server answers.
func (c *Client) Health(ctx context.Context) (int64, error) {
	var out protocol.HealthResponse
	if err := c.do(ctx, http.MethodGet, protocol.PathHealth, nil, nil, &out, HealthTimeout); err != nil {
		return 0, fmt.Errorf("health: %w", err)
	}
	return out.Head, nil
}

// Whoami asks whose the token is.
func (c *Client) Whoami(ctx context.Context) (protocol.WhoamiResponse, error) {
	var out protocol.WhoamiResponse
	if err := c.do(ctx, http.MethodGet, protocol.PathWhoami, nil, nil, &out, HealthTimeout); err != nil {
		return out, fmt.Errorf("whoami: %w", err)
	}
	return out, nil
}

// do sends in as JSON (when not nil) and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, timeout time.Duration) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	return c.doRaw(ctx, method, path, q, body, out, timeout)
}

func (c *Client) doRaw(parent context.Context, method, path string, q url.Values, body []byte, out any, timeout time.Duration) error {
	return c.doHeader(parent, method, path, q, nil, body, out, timeout)
}

// doHeader is doRaw with extra request headers.
func (c *Client) doHeader(parent context.Context, method, path string, q url.Values, hdr http.Header, body []byte, out any, timeout time.Duration) error {
	return c.doAnswer(parent, method, path, q, hdr, body, out, timeout, nil)
}

// doAnswer is doHeader that shows a 2xx answer's headers to answered
// (when not nil) before its body is read.
func (c *Client) doAnswer(parent context.Context, method, path string, q url.Values, hdr http.Header, body []byte, out any, timeout time.Duration, answered func(http.Header)) error {
	wd := newWatchdog(parent, timeout)
	defer wd.stop()
	body, encoding := c.maybeGzip(body)
	req, err := c.newRequest(wd.ctx, method, path, q, body)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if c.compression() {
		// Asked for here rather than by the transport, which would decode
		// before the watchdog sees the bytes: a compressed block yields
		// nothing until it is whole, and on a slow link that silence is
		// not the link's.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if body != nil {
		// The transport reads the body as it sends it: each chunk read is
		// progress up the link.
		req.Body = io.NopCloser(wd.reader(bytes.NewReader(body)))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(wd.reader(bytes.NewReader(body))), nil }
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(parent, wd.explain(err))
	}
	defer resp.Body.Close()
	c.noteEncodings(resp)
	c.noteAnswerBytes(resp)
	wd.progress()
	if answered != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		answered(resp.Header) // before a byte of the body, which may be long in coming
	}
	resp.Body = readCloser{wd.reader(resp.Body), resp.Body}
	if err := gunzipBody(resp); err != nil {
		return transportError(parent, wd.explain(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp, c.now())
	}
	if out == nil {
		_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return transportError(parent, wd.explain(err))
		}
		return nil
	}
	buf, ok := answerBuffers.Get()
	if !ok {
		buf = new(bytes.Buffer)
	}
	defer putAnswerBuffer(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswerBytes+1)); err != nil {
		return transportError(parent, wd.explain(err))
	}
	data := buf.Bytes()
	if len(data) > maxAnswerBytes {
		return protocolError("answer larger than %d bytes", maxAnswerBytes)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == protocol.ContentTypePullPacked {
		page, ok := out.(*protocol.PullResponse)
		if !ok {
			return protocolError("a %s answer to a request that is not a pull", ct)
		}
		p, err := pullpack.Read(data)
		if err != nil {
			return protocolError("decode answer: %v", err)
		}
		*page = p
		return nil
	}
	if err := strictUnmarshal(data, out); err != nil {
		return protocolError("decode answer: %v", err)
	}
	return nil
}

// answerBuffers hold answers' bodies while they are decoded (nothing
// decoded refers to them), so that a first sync's pages of a few
// megabytes each do not grow and clear a new buffer every time.
var answerBuffers = keep.New[*bytes.Buffer](keptBuffers)

// keptBuffers is how many answer buffers, and compressors a client, are
// kept: as many as a sync has requests in flight, and some.
const keptBuffers = 4

// maxPooledAnswer is the largest buffer kept for the next answer.
const maxPooledAnswer = 32 << 20

func putAnswerBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledAnswer {
		return
	}
	b.Reset()
	answerBuffers.Put(b)
}

// readCloser reads through r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = q.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.schema != "" {
		req.Header.Set(protocol.HeaderSchema, c.schema)
	}
	if c.token != "" && path != protocol.PathLogin {
		req.Header.Set("Authorization", "Bearer "+c.token)
		if c.user != "" {
			req.Header.Set(protocol.HeaderUser, c.user)
		}
		if path == protocol.PathPush || path == protocol.PathEvents {
			req.Header.Set(protocol.HeaderClient, c.id)
		}
	}
	return req, nil
}

// newClientID picks a client's protocol.HeaderClient: its streams are not
// poked for its own pushes, so two clients (two devices, or the program
// and a script on one) must not share one.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// strictUnmarshal decodes exactly one JSON value and nothing after it.
// Unknown fields are allowed so that a newer server stays compatible.
// A pull page or a push's answer (out a zero *protocol.PullResponse or
// *protocol.PushResponse, as every caller's is) is decoded by decodePull
// or decodePush when it can.
func strictUnmarshal(data []byte, out any) error {
	switch p := out.(type) {
	case *protocol.PullResponse:
		if fastInto(p, data, decodePull) {
			return nil
		}
	case *protocol.PushResponse:
		if fastInto(p, data, decodePush) {
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
