package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestBandwidth checks that a limited link carries answers whole but
// slowly, in many small pieces, and that a client whose deadline passes
// mid-transfer is cut off: before the server hears it on the way up,
// after the server answered on the way down.
func TestBandwidth(t *testing.T) {
	const rate = 20_000 // bytes a second
	answer := bytes.Repeat([]byte("0123456789"), 1_200)
	var reached atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // the body only has to arrive
		reached.Add(1)
		w.Write(answer) //nolint:errcheck // the client may be gone
	}))
	defer srv.Close()
	p, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBandwidth(rate)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// Down: 12,000 bytes at 20,000 a second take about 0.6 s.
	start := time.Now()
	resp, err := c.Get(p.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			reads++
			got.Write(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	took := time.Since(start)
	if !bytes.Equal(got.Bytes(), answer) {
		t.Fatalf("the answer arrived as %d bytes, want the %d sent", got.Len(), len(answer))
	}
	if want := time.Duration(len(answer)-rate*int(tick)/int(time.Second)) * time.Second / rate; took < want {
		t.Errorf("a %d-byte answer at %d B/s took %v, want at least %v", len(answer), rate, took, want)
	}
	if reads < 3 {
		t.Errorf("the answer arrived in %d read(s); a slow link delivers it piecemeal", reads)
	}

	// Down, with a deadline far shorter than the transfer (6 s at 2 KB/s)
	// yet long enough to reach the server on a busy machine: the server
	// answered, the client gives up mid-answer.
	p.SetBandwidth(2_000)
	before := reached.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/big", nil)
	if resp, err := c.Do(req); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("reading a slow answer past the deadline: %v, want the deadline", err)
		}
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow answer past the deadline: %v", err)
	}
	if got := reached.Load() - before; got != 1 {
		t.Errorf("the server heard the request %d times, want 1", got)
	}

	// Up: a 12,000-byte body needs 0.6 s; a client that gives up after
	// 150 ms is never heard.
	p.SetBandwidth(rate)
	before = reached.Load()
	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/up", bytes.NewReader(answer))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a body slower than the deadline got an answer (%s)", resp.Status)
	}
	// The proxy notices the client's departure and drops the request; give
	// it the time the upload would have taken, then check.
	time.Sleep(time.Duration(len(answer)) * time.Second / rate)
	if got := reached.Load() - before; got != 0 {
		t.Errorf("the server heard a request whose sender gave up during the upload (%d)", got)
	}

	// Lifting the limit makes the link fast again.
	p.SetBandwidth(0)
	if _, body, err := get(c, p.URL+"/big"); err != nil || body != string(answer) {
		t.Errorf("after lifting the limit: %v, %d bytes", err, len(body))
	}
}
