package server

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"casefile/protocol"
	"casefile/server/store"
)

// hub fans change hints out to the event streams of this process.
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	done   chan struct{} // closed when streams must end (shutdown)
	closed bool
}

type subscriber struct {
	hints chan store.Hint
	lost  chan struct{} // signalled when hints overflowed; the stream pokes with the head
}

func newHub() *hub {
	return &hub{subs: map[*subscriber]struct{}{}, done: make(chan struct{})}
}

func (h *hub) subscribe() (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	sub := &subscriber{hints: make(chan store.Hint, 256), lost: make(chan struct{}, 1)}
	h.subs[sub] = struct{}{}
	return sub, true
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

// publish hands a hint to every stream without ever blocking the store's
// listener: a stream that falls behind gets one poke with the head instead.
func (h *hub) publish(hint store.Hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.hints <- hint:
		default:
			select {
			case sub.lost <- struct{}{}:
			default:
			}
		}
	}
}

func (h *hub) closeStreams() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// handleEvents is the realtime stream: a "poke" event with the change
// sequence whenever something the user may see changes, and a heartbeat
// comment between them.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	var last int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.writeError(w, r, errBadRequest("Last-Event-ID must be a change sequence (a whole number)."))
			return
		}
		last = n
	}
	sub, ok := s.hub.subscribe()
	if !ok {
		s.writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			msg: "The server is shutting down; reconnect shortly."})
		return
	}
	defer s.hub.unsubscribe(sub)
	ctx := r.Context()
	head, err := s.Head(ctx)
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts; each write
	// gets its own deadline instead, so a dead client is dropped.
	_ = rc.SetReadDeadline(time.Time{})
	write := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	poke := func(seq int64) bool {
		last = seq
		return write("id: %d\nevent: poke\ndata: {\"seq\":%d}\n\n", seq, seq)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	if !write("retry: 3000\n: connected\n\n") {
		return
	}
	if r.Header.Get("Last-Event-ID") != "" && head > last && !poke(head) {
		return
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.hub.done:
			return
		case <-tick.C:
			if !write(": heartbeat\n\n") {
				return
			}
		case <-sub.lost:
			if h, err := s.Head(ctx); err == nil && h > last && !poke(h) {
				return
			}
		case h := <-sub.hints:
			if h.Seq <= last {
				continue
			}
			ok, err := s.concerns(r, p, h)
			if err != nil {
				s.log.Warn("event stream check failed", "user", p.user, "err", err)
				continue
			}
			if ok && !poke(h.Seq) {
				return
			}
		}
	}
}

// concerns reports whether a hint is news for the user: a change in a
// matter they see, an access change of theirs, or a hint for everyone.
func (s *Server) concerns(r *http.Request, p *principal, h store.Hint) (bool, error) {
	switch {
	case h.User == p.user, h.User == "" && h.MatterID == "":
		return true, nil
	case h.MatterID == "":
		return false, nil
	}
	var ok bool
	err := s.st.Read(r.Context(), func(rd store.Reader) (err error) {
		ok, err = s.visible(r.Context(), rd, p, h.MatterID)
		return err
	})
	return ok, err
}
