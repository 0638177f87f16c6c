package syncer_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"casefile/protocol"
	"casefile/server"
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
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Many pages")
	for i := range 9 {
		alice.CreateNote(t, m.ID, title(i))
	}
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

// TestFullPullAsksForLargerPages: a first sync asks for pages of
// syncer.FullPullPage, a pull after it for the server's own page size,
// and a device told a page size keeps to it in both.
func TestFullPullAsksForLargerPages(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Pages")
	alice.CreateNote(t, m.ID, title(0))
	for _, size := range []int{0, 7} {
		rec := &limitRecorder{}
		d := w.newDevice("d"+strconv.Itoa(size), alice, func(o *syncer.Options) {
			o.PageSize = size
			o.HTTPClient = &http.Client{Transport: rec}
		})
		full, later := strconv.Itoa(syncer.FullPullPage), ""
		if size > 0 {
			full, later = "7", "7"
		}
		d.sync()
		if got := rec.take(); len(got) != 1 || got[0] != full {
			t.Fatalf("page size %d: the first sync asked for %q, want [%s]", size, got, full)
		}
		alice.CreateNote(t, m.ID, title(1))
		if sum := d.sync(); sum.Pulled != 1 {
			t.Fatalf("page size %d: the next sync pulled %d, want 1", size, sum.Pulled)
		}
		if got := rec.take(); len(got) != 1 || got[0] != later {
			t.Fatalf("page size %d: the next sync asked for %q, want [%s]", size, got, later)
		}
	}
}
