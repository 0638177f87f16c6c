package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSSEReader(t *testing.T) {
	in := ": hello\n\n" +
		"id: 7\nevent: poke\ndata: {\"seq\":7}\n\n" +
		"data: line one\r\ndata: line two\r\n\r\n" +
		"id: 8\nevent: poke\n: a comment inside an event\ndata:{\"seq\":8}\nretry: 1000\nunknown: x\n\n" +
		"event: poke\ndata: {\"seq\":9}"
	r := NewSSEReader(strings.NewReader(in))
	want := []SSEEvent{
		{Comment: true, Data: "hello"},
		{ID: "7", Event: "poke", Data: `{"seq":7}`},
		{Event: "message", Data: "line one\nline two"},
		{ID: "8", Event: "poke", Data: `{"seq":8}`},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got != w {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream cut inside an event: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := NewSSEReader(strings.NewReader("\n\n")).Next(); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: err = %v, want io.EOF", err)
	}
	if _, err := NewSSEReader(strings.NewReader("data: " + strings.Repeat("x", maxSSELine+1) + "\n\n")).Next(); err == nil {
		t.Errorf("a huge line was accepted")
	}
}

func TestParsePoke(t *testing.T) {
	if p, err := ParsePoke(SSEEvent{Data: `{"seq":42}`}); err != nil || p.Seq != 42 {
		t.Errorf("ParsePoke = %+v, %v", p, err)
	}
	for _, bad := range []string{``, `{`, `{"seq":-1}`, `{"seq":1} x`, `[]`} {
		if _, err := ParsePoke(SSEEvent{Data: bad}); err == nil {
			t.Errorf("ParsePoke(%q) accepted it", bad)
		}
	}
}

// TestSubscribeResumesWithLastEventID runs the subscription loop against a
// server that sends two pokes per connection and then hangs up.
func TestSubscribeResumesWithLastEventID(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	seq := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"No token."}}`)
			return
		}
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": ping\n\n")
		for range 2 {
			seq++
			fmt.Fprintf(w, "id: %d\nevent: poke\ndata: {\"seq\":%d}\n\n", seq, seq)
		}
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int64
	opens := 0
	fast := Backoff{Base: time.Millisecond, Cap: time.Millisecond}
	err := c.subscribe(ctx, fast, func() { opens++ }, func(s int64) {
		got = append(got, s)
		if len(got) == 6 {
			cancel()
		}
	}, func(err error) { t.Errorf("unexpected failure: %v", err) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("subscribe returned %v", err)
	}
	if fmt.Sprint(got) != "[1 2 3 4 5 6]" || opens != 3 {
		t.Errorf("pokes = %v over %d opens", got, opens)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(lastIDs) != "[ 2 4]" {
		t.Errorf("Last-Event-ID per connection = %q, want [\"\" 2 4]", lastIDs)
	}

	// A refused token ends the loop with the error instead of retrying.
	c, _ = NewClient(srv.URL, "wrong", nil)
	failures := 0
	err = c.subscribe(context.Background(), fast, func() {}, func(int64) {}, func(error) { failures++ })
	if ClassOf(err) != ClassUnauthorized || failures != 1 {
		t.Errorf("bad token: err = %v after %d failures", err, failures)
	}
}

func TestEventsRejectsNonStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>captive portal</html>")
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)
	if _, err := c.Events(context.Background(), ""); ClassOf(err) != ClassFailing {
		t.Errorf("err = %v, want a failing exchange", err)
	}
}

// TestSubscribeHonoursRetryAfter: a server that answers the event stream
// with 503 and Retry-After is not asked again before that time, however
// short the stream's own backoff.
func TestSubscribeHonoursRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		n := len(at)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"Shutting down."}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\nevent: poke\ndata: {\"seq\":1}\n\n")
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fast := Backoff{Base: time.Millisecond, Cap: time.Millisecond}
	c.subscribe(ctx, fast, func() {}, func(int64) { cancel() }, func(error) {})
	mu.Lock()
	defer mu.Unlock()
	if len(at) < 2 {
		t.Fatalf("the stream was asked for %d time(s)", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 900*time.Millisecond {
		t.Errorf("asked again after %v; the server said Retry-After: 1", gap)
	}
}
