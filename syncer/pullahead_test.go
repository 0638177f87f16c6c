package syncer_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/syncer"
)

// pullRecorder passes requests through, notes the cursor of each pull and
// fails the pull whose number is failAt (1-based; 0 fails none).
type pullRecorder struct {
	mu      sync.Mutex
	cursors []int64
	failAt  int
}

func (p *pullRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == protocol.PathPull {
		c, _ := strconv.ParseInt(req.URL.Query().Get("cursor"), 10, 64)
		p.mu.Lock()
		p.cursors = append(p.cursors, c)
		fail := len(p.cursors) == p.failAt
		p.mu.Unlock()
		if fail {
			return nil, errors.New("connection reset (test)")
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (p *pullRecorder) asked() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.cursors...)
}

// TestPullAsksAheadInOrder: the request for the next page leaves while the
// page before it is applied, and asks for what the one-at-a-time loop
// would have asked next: every cursor once, in order. A failed request for
// a page ahead leaves the pages before it applied with their cursor, and
// the next sync goes on from there.
func TestPullAsksAheadInOrder(t *testing.T) {
	w := newWorld(t)
	alice := manyPages(t, w, 9)
	rec := &pullRecorder{failAt: 3}
	fresh := w.newDevice("fresh", alice, func(o *syncer.Options) {
		o.PageSize = 3
		o.HTTPClient = &http.Client{Transport: rec}
	})
	if _, err := fresh.s.RunOnce(context.Background()); err == nil {
		t.Fatal("the sync whose third pull failed reported no error")
	}
	st, err := fresh.db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	asked := rec.asked()
	if len(asked) != 3 || asked[0] != 0 || st.Cursor != asked[2] || asked[1] >= asked[2] {
		t.Fatalf("pulls asked for %v, cursor after the failure %d: want two pages applied and the third asked at the cursor they left", asked, st.Cursor)
	}
	if sum := fresh.sync(); sum.Pulled != 10-6 {
		t.Fatalf("the next sync pulled %d, want the last 4", sum.Pulled)
	}
	asked = rec.asked()
	for i := 1; i < len(asked); i++ {
		if asked[i] <= asked[i-1] && !(i == 3 && asked[i] == asked[i-1]) {
			t.Fatalf("pulls asked for %v: each cursor once, in order (the failed one again)", asked)
		}
	}
	assertMirrors(t, fresh)
}

// limitRecorder passes requests through and notes the limit each pull
// asks for ("" when it names none).
type limitRecorder struct {
	mu     sync.Mutex
	limits []string
}

func (l *limitRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == protocol.PathPull {
		l.mu.Lock()
		l.limits = append(l.limits, req.URL.Query().Get("limit"))
		l.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (l *limitRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.limits
	l.limits = nil
	return got
}

// TestFullPullAsksForLargerPages: a first sync asks for its first page
// at the server's own size and for the pages after it at
// syncer.MinRampPage and more (TestRampPage); a pull after it names no
// size (the server's own); a device told a page size keeps to it
// throughout.
func TestFullPullAsksForLargerPages(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Pages")
	notes := protocol.DefaultPullPage + syncer.MinRampPage + 100
	for start := 0; start < notes; start += 200 {
		var ops []model.Op
		for i := start; i < min(start+200, notes); i++ {
			ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": title(i)}))
		}
		if _, err := alice.Push(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{0, 400} {
		rec := &limitRecorder{}
		d := w.newDevice("d"+strconv.Itoa(size), alice, func(o *syncer.Options) {
			o.PageSize = size
			o.HTTPClient = &http.Client{Transport: rec}
		})
		ramp := strconv.Itoa(syncer.MinRampPage)
		first := []string{strconv.Itoa(protocol.DefaultPullPage), ramp, ramp}
		later := []string{""}
		if size > 0 {
			first, later = slices.Repeat([]string{"400"}, (notes+1+399)/400), []string{"400"}
		}
		if sum := d.sync(); sum.Pulled != notes+1 {
			t.Fatalf("page size %d: the first sync pulled %d, want %d", size, sum.Pulled, notes+1)
		}
		if got := rec.take(); !slices.Equal(got, first) {
			t.Fatalf("page size %d: the first sync asked for %q, want %q", size, got, first)
		}
		alice.CreateNote(t, m.ID, title(notes+size))
		if sum := d.sync(); sum.Pulled != 1 {
			t.Fatalf("page size %d: the next sync pulled %d, want 1", size, sum.Pulled)
		}
		if got := rec.take(); !slices.Equal(got, later) {
			t.Fatalf("page size %d: the next sync asked for %q, want %q", size, got, later)
		}
		notes++
	}
}

// TestRampPage: a pull's pages grow from the server's own size to a
// tenth of what its first page said remain, between syncer.MinRampPage
// and syncer.FullPullPage.
func TestRampPage(t *testing.T) {
	for _, c := range []struct {
		total int64
		n     int
		want  int
	}{
		{100000, 0, protocol.DefaultPullPage},
		{100000, 1, syncer.MinRampPage},
		{100000, 2, syncer.FullPullPage},
		{30000, 5, 3000},
		{10000, 2, syncer.MinRampPage},
		{0, 9, syncer.MinRampPage},
		{1 << 40, 3, syncer.FullPullPage},
	} {
		if got := syncer.RampPage(c.total, c.n); got != c.want {
			t.Errorf("page %d of a pull of %d: %d, want %d", c.n, c.total, got, c.want)
		}
	}
}

// heldPull passes requests through and holds the body of the pull whose
// number is hold (1-based) until release is closed; the answer's headers
// come at once.
type heldPull struct {
	pullRecorder
	hold    int
	release chan struct{}
}

func (h *heldPull) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.pullRecorder.RoundTrip(req)
	if err != nil || req.URL.Path != protocol.PathPull {
		return resp, err
	}
	h.mu.Lock()
	n := len(h.cursors)
	h.mu.Unlock()
	if n == h.hold {
		resp.Body = heldBody{resp.Body, h.release}
	}
	return resp, nil
}

type heldBody struct {
	io.ReadCloser
	release <-chan struct{}
}

func (b heldBody) Read(p []byte) (int, error) {
	<-b.release
	return b.ReadCloser.Read(p)
}

// TestPullAsksAtMostTwoPagesAhead: the server names the next page in an
// answer's headers, and the pull asks for it before the body has come —
// but for no page beyond it until the page before is taken, so that no
// more than two pages travel ahead of the one being written. Every cursor
// is asked once, in order, and the device ends as the server.
func TestPullAsksAtMostTwoPagesAhead(t *testing.T) {
	w := newWorld(t)
	alice := manyPages(t, w, 20)
	rec := &heldPull{hold: 3, release: make(chan struct{})}
	fresh := w.newDevice("fresh", alice, func(o *syncer.Options) {
		o.PageSize = 3
		o.HTTPClient = &http.Client{Transport: rec}
	})
	done := make(chan syncer.Summary, 1)
	go func() { done <- fresh.sync() }()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.asked()) < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := rec.asked(); len(got) != 4 {
		close(rec.release)
		t.Fatalf("with the third page's body held, pulls asked for %v: want the fourth asked from its headers", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := rec.asked(); len(got) != 4 {
		close(rec.release)
		t.Fatalf("with the third page's body held, pulls asked for %v: want none beyond the fourth", got)
	}
	close(rec.release)
	if sum := <-done; sum.Pulled != 21 || sum.PulledAhead == 0 {
		t.Fatalf("the first sync pulled %d, %d pages asked ahead; want 21, and some", sum.Pulled, sum.PulledAhead)
	}
	asked := rec.asked()
	for i := 1; i < len(asked); i++ {
		if asked[i] <= asked[i-1] {
			t.Fatalf("pulls asked for %v: want each cursor once, in order", asked)
		}
	}
	assertMirrors(t, fresh)
}

// TestFullPullCheckpointsAsItWritesItsLastPage: as a full pull writes its
// last page, the checkpointer copies the pages before it back into the
// database file, without waiting for Close or its own next turn.
func TestFullPullCheckpointsAsItWritesItsLastPage(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Pages")
	notes := protocol.DefaultPullPage + 100
	for start := 0; start < notes; start += 200 {
		var ops []model.Op
		for i := start; i < min(start+200, notes); i++ {
			ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": title(i),
				"body": strings.Repeat("a body of words ", 40)}))
		}
		if _, err := alice.Push(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
	}
	d := w.newDevice("d", alice)
	if sum := d.sync(); sum.Pulled != notes+1 {
		t.Fatalf("the first sync pulled %d, want %d", sum.Pulled, notes+1)
	}
	// The first page alone is some 500 KB of notes.
	for deadline := time.Now().Add(10 * time.Second); fileSize(t, d.path) < 400_000; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes: the WAL was not copied back", fileSize(t, d.path))
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
