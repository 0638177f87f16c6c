package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

func TestClientPushClassifiesAnswers(t *testing.T) {
	ops := []model.Op{
		{OpID: "op-1", RecordID: "r-1", Collection: "note", Kind: model.OpCreate, Fields: model.Fields{"title": "a"}},
		{OpID: "op-2", RecordID: "r-2", Collection: "note", Kind: model.OpCreate, Fields: model.Fields{"title": "b"}},
	}
	okBody := `{"results":[{"op_id":"op-1","result":"applied"},{"op_id":"op-2","result":"rejected","code":"validation","message":"note.title: is required"}],"head":9}`
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		class      Class // 0: success
		code       protocol.Code
		message    string
		retryAfter time.Duration
	}{
		{name: "ok", status: 200, body: okBody},
		{name: "too few results", status: 200, body: `{"results":[{"op_id":"op-1","result":"applied"}],"head":9}`, class: ClassFailing},
		{name: "results out of order", status: 200, body: `{"results":[{"op_id":"op-2","result":"applied"},{"op_id":"op-1","result":"applied"}]}`, class: ClassFailing},
		{name: "unknown result", status: 200, body: `{"results":[{"op_id":"op-1","result":"maybe"},{"op_id":"op-2","result":"applied"}]}`, class: ClassFailing},
		{name: "trailing garbage", status: 200, body: okBody + `{}`, class: ClassFailing},
		{name: "truncated", status: 200, body: okBody[:40], class: ClassFailing},
		{name: "unauthorized", status: 401, body: `{"error":{"code":"unauthorized","message":"The token has expired."}}`, class: ClassUnauthorized, code: "unauthorized", message: "The token has expired."},
		{name: "rate limited", status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"code":"rate_limited","message":"Slow down."}}`, class: ClassFailing, code: "rate_limited", retryAfter: 7 * time.Second},
		{name: "unavailable html", status: 503, body: `<html>busy</html>`, class: ClassFailing, code: "unavailable", message: "The server answered 503 Service Unavailable."},
		{name: "internal", status: 500, body: `{"error":{"code":"internal","message":"Something went wrong."}}`, class: ClassFailing, code: "internal"},
		{name: "bad gateway empty", status: 502, class: ClassFailing, code: "unavailable"},
		{name: "bad request", status: 400, body: `{"error":{"code":"bad_request","message":"The body is not valid JSON."}}`, class: ClassPermanent, code: "bad_request"},
		{name: "forbidden", status: 403, body: `{"error":{"code":"forbidden","message":"Viewers cannot write."}}`, class: ClassPermanent, code: "forbidden"},
		{name: "not found", status: 404, body: `{"error":{"code":"not_found","message":"No such thing."}}`, class: ClassPermanent, code: "not_found"},
		{name: "too large", status: 413, body: `{"error":{"code":"too_large","message":"Too big."}}`, class: ClassPermanent, code: "too_large"},
		{name: "error without message", status: 400, body: `{"error":{"code":"bad_request"}}`, class: ClassPermanent, code: "bad_request", message: "The server answered 400 Bad Request."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != protocol.PathPush {
					t.Errorf("got %s %s", r.Method, r.URL.Path)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer tok" {
					t.Errorf("Authorization = %q", got)
				}
				var req protocol.PushRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Ops) != 2 || req.Ops[1].OpID != "op-2" {
					t.Errorf("request body: %v %+v", err, req)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL, "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Push(context.Background(), ops)
			if tt.class == 0 {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				if resp.Head != 9 || resp.Results[1].Code != "validation" {
					t.Fatalf("resp = %+v", resp)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Class != tt.class {
				t.Errorf("class = %v, want %v (%v)", e.Class, tt.class, err)
			}
			if tt.code != "" && e.Code != tt.code {
				t.Errorf("code = %q, want %q", e.Code, tt.code)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("message = %q, want %q", e.Message, tt.message)
			}
			if e.RetryAfter != tt.retryAfter {
				t.Errorf("retry after = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
			if e.Message == "" {
				t.Errorf("no sentence for people")
			}
		})
	}
}

func TestClientPull(t *testing.T) {
	var gotQuery string
	status, body := 200, `{"records":[],"cursor":12,"more":false,"head":12,"total":0}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/", "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Pull(context.Background(), 5, 100, NoMark)
	if err != nil || resp.Cursor != 12 {
		t.Fatalf("Pull = %+v, %v", resp, err)
	}
	if gotQuery != "cursor=5&limit=100" {
		t.Errorf("query = %q", gotQuery)
	}

	body = `{"records":[],"cursor":3,"more":false,"head":12}`
	if _, err := c.Pull(context.Background(), 5, 0, NoMark); ClassOf(err) != ClassFailing {
		t.Errorf("cursor going back: err = %v, want a failing exchange", err)
	}
	body = `{"records":[],"cursor":5,"more":true,"head":12}`
	if _, err := c.Pull(context.Background(), 5, 0, NoMark); ClassOf(err) != ClassFailing {
		t.Errorf("more without progress: err = %v, want a failing exchange", err)
	}
	status, body = 410, `{"error":{"code":"cursor_too_old","message":"Resync."}}`
	if _, err := c.Pull(context.Background(), 5, 0, NoMark); ClassOf(err) != ClassCursorTooOld {
		t.Errorf("410: err = %v, want cursor too old", err)
	}
	status, body = 410, `{"error":{"code":"gone","message":"Gone."}}`
	if _, err := c.Pull(context.Background(), 5, 0, NoMark); ClassOf(err) != ClassPermanent {
		t.Errorf("410 of another kind: err = %v, want permanent", err)
	}
}

func TestClientLoginSendsNoToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("login sent a token")
		}
		var req protocol.LoginRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.User != "ana" || req.Password != "pw" || req.Device != "laptop" {
			t.Errorf("login request = %+v", req)
		}
		w.Write([]byte(`{"token":"t1","user":"ana","role":"member","device":"laptop","expires_at":"2030-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "old", nil)
	resp, err := c.Login(context.Background(), protocol.LoginRequest{User: "ana", Password: "pw", Device: "laptop"})
	if err != nil || resp.Token != "t1" {
		t.Fatalf("Login = %+v, %v", resp, err)
	}
}

func TestClientNetworkFailures(t *testing.T) {
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := NewClient(dead, "tok", nil)
	if _, err := c.Health(context.Background()); ClassOf(err) != ClassUnreachable {
		t.Errorf("refused: err = %v (class %v), want unreachable", err, ClassOf(err))
	}

	// A server that resets the connection mid-request.
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}))
	defer reset.Close()
	c, _ = NewClient(reset.URL, "tok", nil)
	_, err = c.Push(context.Background(), []model.Op{{OpID: "x", RecordID: "y"}})
	if ClassOf(err) != ClassFailing || !IsTransient(err) {
		t.Errorf("reset: err = %v (class %v), want failing", err, ClassOf(err))
	}

	// A server that never answers: our deadline ends the exchange.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	c, _ = NewClient(slow.URL, "tok", nil)
	c.timeout = 50 * time.Millisecond
	_, err = c.Pull(context.Background(), 0, 0, NoMark)
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassFailing || !strings.Contains(e.Message, "in time") {
		t.Errorf("timeout: err = %v, want a failing exchange that says it timed out", err)
	}

	// The caller stopping is not a network failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Pull(ctx, 0, 0, NoMark); !errors.Is(err, context.Canceled) || ClassOf(err) != 0 {
		t.Errorf("cancelled: err = %v, want context.Canceled unclassified", err)
	}
}

func TestNewClientRejectsBadAddresses(t *testing.T) {
	for _, s := range []string{"", "localhost:8080", "ftp://x", "http://", "http://x?y=1"} {
		if _, err := NewClient(s, "", nil); err == nil {
			t.Errorf("NewClient(%q) accepted it", s)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"junk":                          0,
		"999999":                        maxRetryAfter,
		"Sun, 01 Mar 2026 12:00:30 GMT": 30 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSlowAnswerIsNotATimeout: an answer that keeps arriving, a little at
// a time, is read to the end however long it takes in total; the request
// timeout is on silence, not on duration. An answer that stops arriving
// halfway is given up once the silence reaches the timeout.
func TestSlowAnswerIsNotATimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	page := `{"records":[],"cursor":7,"head":7,"more":false,"total":0}`
	crawl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		rc := http.NewResponseController(w)
		// Padding first (JSON allows leading whitespace), a byte every
		// 10 ms: 1.2 s in all, four times the timeout.
		for range 120 {
			w.Write([]byte(" "))
			rc.Flush()
			time.Sleep(10 * time.Millisecond)
		}
		w.Write([]byte(page))
	}))
	defer crawl.Close()
	c, _ := NewClient(crawl.URL, "tok", nil, WithRequestTimeout(timeout))
	start := time.Now()
	got, err := c.Pull(context.Background(), 0, 0, NoMark)
	if err != nil || got.Cursor != 7 {
		t.Fatalf("a crawling answer: cursor %d, err %v; want it read to the end", got.Cursor, err)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("the answer took %v, less than the timeout: the test proves nothing", d)
	}

	stop := make(chan struct{})
	defer close(stop)
	half := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(page[:len(page)/2]))
		http.NewResponseController(w).Flush()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer half.Close()
	c, _ = NewClient(half.URL, "tok", nil, WithRequestTimeout(timeout))
	_, err = c.Pull(context.Background(), 0, 0, NoMark)
	if !TimedOut(err) || !IsTransient(err) {
		t.Errorf("an answer that stops halfway: err = %v, want a transient timeout", err)
	}
	if TimedOut(&Error{Class: ClassFailing, Message: "reset"}) || TimedOut(errors.New("x")) {
		t.Error("TimedOut says yes to errors that are not timeouts")
	}
}

// TestSlowChunkIsNotATimeout: a file chunk that keeps arriving is read to
// the end like a pull page (the chunk exchange had a total timeout and
// gave up on chunks still moving; the simulation's crawl fault found it).
func TestSlowChunkIsNotATimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	chunk := bytes.Repeat([]byte("x"), 120)
	crawl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(chunk)))
		rc := http.NewResponseController(w)
		for _, b := range chunk { // a byte every 10 ms: 1.2 s, four timeouts
			w.Write([]byte{b})
			rc.Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}))
	defer crawl.Close()
	c, _ := NewClient(crawl.URL, "tok", nil, WithRequestTimeout(timeout))
	start := time.Now()
	got, _, err := c.GetChunk(context.Background(), "00000000-0000-4000-8000-000000000000", 0)
	if err != nil || !bytes.Equal(got, chunk) {
		t.Fatalf("a crawling chunk: %d bytes, err %v; want it read to the end", len(got), err)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("the chunk took %v, less than the timeout: the test proves nothing", d)
	}
}

// TestLinkBroke: a connection cut mid-exchange or a timeout is the link's
// failure (a smaller request may pass); an answer of the server's, one
// that breaks the protocol, or a failure to connect at all is not.
func TestLinkBroke(t *testing.T) {
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	c, _ := NewClient(cut.URL, "tok", nil)
	_, err := c.Pull(context.Background(), 0, 0, NoMark)
	if !LinkBroke(err) {
		t.Errorf("a connection cut before the answer: LinkBroke(%v) = false, want true", err)
	}
	for _, e := range []error{
		&Error{Class: ClassFailing, Status: http.StatusInternalServerError, Err: errors.New("x")},
		&Error{Class: ClassUnreachable, Err: errors.New("dial")},
		protocolError("push answer has %d results for %d ops", 1, 2),
		errors.New("x"),
		nil,
	} {
		if LinkBroke(e) {
			t.Errorf("LinkBroke(%v) = true, want false", e)
		}
	}
}
