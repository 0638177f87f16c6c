package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backend counts the requests that reach it and answers "ok N".
func backend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 100 {
				fmt.Fprintf(w, "id: %d\ndata: x\n\n", i)
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		c := n.Add(1)
		w.Header().Set("X-Body", string(body))
		fmt.Fprintf(w, "ok %d", c)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Post(url, "text/plain", strings.NewReader("hello"))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestFaults(t *testing.T) {
	srv, n := backend(t)
	p, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	tests := []struct {
		fault    Fault
		reached  int64 // requests the backend saw
		clientOK bool
		status   int
	}{
		{Pass, 1, true, 200},
		{Reset, 0, false, 0},
		{Drop, 1, false, 0},
		{Unavailable, 0, true, 503},
		{Duplicate, 2, true, 200},
	}
	for _, tt := range tests {
		before := n.Load()
		p.Inject("/push", tt.fault)
		status, body, err := get(c, p.URL+"/push")
		if got := n.Load() - before; got != tt.reached {
			t.Errorf("%s: backend reached %d times, want %d", tt.fault, got, tt.reached)
		}
		if (err == nil) != tt.clientOK {
			t.Errorf("%s: client err = %v", tt.fault, err)
		}
		if err == nil && status != tt.status {
			t.Errorf("%s: status %d (%s), want %d", tt.fault, status, body, tt.status)
		}
		if tt.fault == Duplicate && body != fmt.Sprintf("ok %d", n.Load()) {
			t.Errorf("duplicate: client got %q, want the second answer", body)
		}
	}
	if got := p.Requests("/push"); got != len(tests) {
		t.Errorf("Requests = %d, want %d", got, len(tests))
	}
	f := p.Faults()
	if f[Reset] != 1 || f[Drop] != 1 || f[Unavailable] != 1 || f[Duplicate] != 1 {
		t.Errorf("Faults = %v", f)
	}

	// Queued faults match by path prefix only.
	p.Inject("/pull", Reset)
	if _, _, err := get(c, p.URL+"/push"); err != nil {
		t.Errorf("a fault queued for /pull hit /push: %v", err)
	}
	if _, _, err := get(c, p.URL+"/pull"); err == nil {
		t.Errorf("the fault queued for /pull did not fire")
	}
}

func TestStopStart(t *testing.T) {
	srv, _ := backend(t)
	p, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	p.Stop()
	if _, _, err := get(c, p.URL+"/x"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("stopped proxy: err = %v, want connection refused", err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if status, _, err := get(c, p.URL+"/x"); err != nil || status != 200 {
		t.Errorf("restarted proxy: %d, %v", status, err)
	}
}

func TestRandomIsSeeded(t *testing.T) {
	srv, _ := backend(t)
	run := func() []bool {
		p, err := New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.SetRandom(99, Random{Reset: 0.3, Unavailable: 0.2})
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var out []bool
		for range 40 {
			status, _, err := get(c, p.URL+"/x")
			out = append(out, err == nil && status == 200)
		}
		return out
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	ok := 0
	for _, x := range a {
		if x {
			ok++
		}
	}
	if ok == 0 || ok == len(a) {
		t.Errorf("%d of %d passed: odds not applied", ok, len(a))
	}
}

func TestCloseStreams(t *testing.T) {
	srv, _ := backend(t)
	p, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	req, _ := http.NewRequest("GET", p.URL+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "id: 0\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if got := p.CloseStreams(); got != 1 {
		t.Errorf("CloseStreams = %d, want 1", got)
	}
	if _, err := io.ReadAll(r); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("stream ended with %v", err)
	}

	// An injected CloseStream cuts the stream after its first event.
	p.Inject("/events", CloseStream)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	b, _ := io.ReadAll(resp2.Body)
	if got := strings.Count(string(b), "id: "); got < 1 || got > 2 {
		t.Errorf("cut stream carried %d events, want 1", got)
	}
}
