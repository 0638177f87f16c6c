package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

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
	c, _ := apiclient.NewClient(srv.URL, "tok", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int64
	opens := 0
	fast := Backoff{Base: time.Millisecond, Cap: time.Millisecond}
	err := subscribe(ctx, c, fast, func() { opens++ }, func(s int64) {
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
	c, _ = apiclient.NewClient(srv.URL, "wrong", nil)
	failures := 0
	err = subscribe(context.Background(), c, fast, func() {}, func(int64) {}, func(error) { failures++ })
	if apiclient.ClassOf(err) != apiclient.ClassUnauthorized || failures != 1 {
		t.Errorf("bad token: err = %v after %d failures", err, failures)
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
	c, _ := apiclient.NewClient(srv.URL, "tok", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fast := Backoff{Base: time.Millisecond, Cap: time.Millisecond}
	subscribe(ctx, c, fast, func() {}, func(int64) { cancel() }, func(error) {})
	mu.Lock()
	defer mu.Unlock()
	if len(at) < 2 {
		t.Fatalf("the stream was asked for %d time(s)", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 900*time.Millisecond {
		t.Errorf("asked again after %v; the server said Retry-After: 1", gap)
	}
}

// TestSubscribeSaysWhyTheServerClosed: a stream the server closes because
// newer streams of the same token took its place reports the server's
// reason and waits a minute before reopening (reopening at once would
// close the other stream, and the two would take turns for ever).
func TestSubscribeSaysWhyTheServerClosed(t *testing.T) {
	srv := servertest.Start(t, func(o *server.Options) { o.StreamsPerToken = 1 })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	c, _ := apiclient.NewClient(srv.URL, alice.Token, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan struct{}, 10)
	failed := make(chan error, 10)
	done := make(chan error, 1)
	fast := Backoff{Base: time.Millisecond, Cap: time.Millisecond}
	go func() {
		done <- subscribe(ctx, c, fast, func() { opened <- struct{}{} }, func(int64) {}, func(err error) { failed <- err })
	}()
	<-opened
	// The same token opens another stream elsewhere.
	other, err := c.Events(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var e *apiclient.Error
	if err := <-failed; !errors.As(err, &e) || e.Code != protocol.CodeTooManyStreams || e.Message == "" || e.RetryAfter != streamCapWait {
		t.Fatalf("failure reported = %#v, want too_many_streams with the server's sentence and a wait of %v", err, streamCapWait)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe returned %v", err)
	}
	if len(opened) != 0 {
		t.Fatalf("the stream was reopened at once")
	}
}
