package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"casefile/protocol"
	"casefile/server/store"
)

// Event-stream limits and timings.
const (
	// DefaultStreamsPerToken and DefaultStreamsPerUser cap the streams
	// open at once on one server: a client needs one, a user a few
	// devices. A new stream over a cap closes the oldest.
	DefaultStreamsPerToken = 4
	DefaultStreamsPerUser  = 16
	// streamWriteTimeout drops a client that stops reading.
	streamWriteTimeout = 30 * time.Second
	// streamRetry is the reconnection delay a stream asks for; a stream
	// closed for a newer one asks for streamCapRetry, so two clients on
	// one token over the cap do not take turns every few seconds.
	streamRetry    = 3 * time.Second
	streamCapRetry = time.Minute
	// streamHintBuffer is how many hints wait for a slow stream before
	// it falls back to one poke with the head: enough for a burst of
	// pushes, small enough that 10,000 streams stay cheap.
	streamHintBuffer = 16
)

// streamEnd is why the server closes a stream: a "closed" event with an
// error code and a sentence the client can show.
type streamEnd struct {
	code  protocol.Code
	msg   string
	retry time.Duration
}

var (
	endTooMany = &streamEnd{code: protocol.CodeTooManyStreams, retry: streamCapRetry,
		msg: "Closed because newer event streams were opened with the same sign-in; reconnect later."}
	endUnauthorized = &streamEnd{code: protocol.CodeUnauthorized, retry: streamRetry,
		msg: errUnauthorized.msg}
	// endRevoked tells a revoked device why, so that it wipes at once
	// rather than at its next request.
	endRevoked = &streamEnd{code: protocol.CodeDeviceRevoked, retry: streamRetry,
		msg: errDeviceRevoked.msg}
)

// hub fans change hints out to the event streams of this process.
type hub struct {
	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	byToken map[string][]*subscriber // oldest first
	byUser  map[string][]*subscriber // oldest first
	done    chan struct{}            // closed when streams must end (shutdown)
	closed  bool
}

type subscriber struct {
	user, token string
	// unseen holds matters this stream's user was found not to see, so
	// that their hints are not even delivered (guarded by the hub's mu):
	// with thousands of streams, checking every change of every matter
	// against the database on every stream was most of a busy server's
	// work. Only "not visible" is remembered: a poke is always preceded
	// by a check, so a stale entry can only delay one (it is forgotten on
	// the user's own access changes and at every heartbeat), never reveal
	// a matter.
	unseen map[string]struct{}
	hints  chan store.Hint
	lost   chan struct{}   // signalled when hints overflowed; the stream pokes with the head
	end    chan *streamEnd // the hub closes the stream (over a cap)
}

func newHub() *hub {
	return &hub{subs: map[*subscriber]struct{}{}, byToken: map[string][]*subscriber{}, byUser: map[string][]*subscriber{},
		done: make(chan struct{})}
}

// subscribe adds a stream for a user's token, first closing the oldest
// of the token's streams and of the user's that the caps leave no room
// for.
func (h *hub) subscribe(user, token string, perToken, perUser int) (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	for len(h.byToken[token]) >= perToken {
		h.kick(h.byToken[token][0], endTooMany)
	}
	for len(h.byUser[user]) >= perUser {
		h.kick(h.byUser[user][0], endTooMany)
	}
	sub := &subscriber{user: user, token: token, hints: make(chan store.Hint, streamHintBuffer), lost: make(chan struct{}, 1),
		end: make(chan *streamEnd, 1)}
	h.subs[sub] = struct{}{}
	h.byToken[token] = append(h.byToken[token], sub)
	h.byUser[user] = append(h.byUser[user], sub)
	return sub, true
}

// kick tells a stream to end and stops counting it; h.mu is held.
func (h *hub) kick(sub *subscriber, why *streamEnd) {
	h.remove(sub)
	select {
	case sub.end <- why:
	default:
	}
}

// remove forgets a stream; h.mu is held. Removing one already gone does
// nothing.
func (h *hub) remove(sub *subscriber) {
	if _, ok := h.subs[sub]; !ok {
		return
	}
	delete(h.subs, sub)
	h.byToken[sub.token] = without(h.byToken[sub.token], sub)
	if len(h.byToken[sub.token]) == 0 {
		delete(h.byToken, sub.token)
	}
	h.byUser[sub.user] = without(h.byUser[sub.user], sub)
	if len(h.byUser[sub.user]) == 0 {
		delete(h.byUser, sub.user)
	}
}

func without(list []*subscriber, sub *subscriber) []*subscriber {
	for i, s := range list {
		if s == sub {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	h.remove(sub)
	h.mu.Unlock()
}

// publish hands a hint to every stream without ever blocking the store's
// listener: a stream that falls behind gets one poke with the head instead.
func (h *hub) publish(hint store.Hint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		switch {
		case hint.User != "":
			if hint.User == sub.user {
				sub.unseen = nil // an access change of theirs: look again
			}
		case hint.MatterID != "":
			if _, no := sub.unseen[hint.MatterID]; no {
				continue
			}
		}
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

// maxUnseen bounds the matters one stream remembers as not its user's.
const maxUnseen = 4096

// notSeen remembers that sub's user does not see matter.
func (h *hub) notSeen(sub *subscriber, matter string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.unseen == nil || len(sub.unseen) >= maxUnseen {
		sub.unseen = map[string]struct{}{}
	}
	sub.unseen[matter] = struct{}{}
}

// forgetUnseen drops what sub remembered (a role may have changed).
func (h *hub) forgetUnseen(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub.unseen = nil
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
// comment between them. The token and the user's role are checked again
// on every heartbeat and before every poke: a revoked or expired token's
// stream ends with a "closed" event, and a role change applies at once.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	var last int64
	resume := r.Header.Get("Last-Event-ID") != ""
	if resume {
		n, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
		if err != nil || n < 0 {
			s.writeError(w, r, errBadRequest("Last-Event-ID must be a change sequence (a whole number)."))
			return
		}
		last = n
	}
	sub, ok := s.hub.subscribe(p.user, p.tokenHash, s.opts.StreamsPerToken, s.opts.StreamsPerUser)
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
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	poke := func(seq int64, resync bool) bool {
		last = seq
		data, _ := json.Marshal(protocol.Poke{Seq: seq, Resync: resync})
		return write("id: %d\nevent: %s\ndata: %s\n\n", seq, protocol.EventPoke, data)
	}
	closeWith := func(why *streamEnd) {
		data, _ := json.Marshal(protocol.Error{Code: why.code, Message: why.msg})
		write("retry: %d\nevent: %s\ndata: %s\n\n", why.retry.Milliseconds(), protocol.EventClosed, data)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	if !write("retry: %d\n: connected\n\n", streamRetry.Milliseconds()) {
		return
	}
	switch {
	case resume && last > head:
		// An id this server never gave, as a cursor beyond the head is:
		// poke with the head so the client pulls (and learns from the
		// pull's 410 that it must start over) and counts from here.
		if !poke(head, true) {
			return
		}
	case resume && head > last:
		if !poke(head, false) {
			return
		}
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		var news bool
		select {
		case <-ctx.Done():
			return
		case <-s.hub.done:
			return
		case why := <-sub.end:
			closeWith(why)
			return
		case <-tick.C:
			s.hub.forgetUnseen(sub)
			if p, _, err = s.streamCheck(ctx, p, nil); err == nil && !write(": heartbeat\n\n") {
				return
			}
		case <-sub.lost:
			if p, _, err = s.streamCheck(ctx, p, nil); err == nil {
				if h, herr := s.Head(ctx); herr == nil && h > last && !poke(h, false) {
					return
				}
			}
		case h := <-sub.hints:
			if h.Seq <= last {
				continue
			}
			if p, news, err = s.streamCheck(ctx, p, &h); err == nil && news && !poke(h.Seq, false) {
				return
			}
			if err == nil && !news && h.User == "" && h.MatterID != "" {
				s.hub.notSeen(sub, h.MatterID)
			}
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			closeWith(endUnauthorized)
			return
		case errors.Is(err, errRevokedDevice):
			closeWith(endRevoked)
			return
		case err != nil && ctx.Err() == nil:
			s.log.Warn("event stream check failed", "user", p.user, "err", err)
		}
	}
}

// streamCheck asks again who holds the stream's token (ErrNotFound once it
// is revoked or expired, or its user is gone) and, for a hint, whether it
// is news for them now: a change in a matter they see, an access change of
// theirs, or a hint for everyone.
func (s *Server) streamCheck(ctx context.Context, p *principal, h *store.Hint) (*principal, bool, error) {
	var now *principal
	var news bool
	err := s.st.Read(ctx, func(rd store.Reader) (err error) {
		if now, err = s.principalOf(ctx, rd, p.tokenHash); err != nil {
			return err
		}
		switch {
		case h == nil:
		case h.User == now.user, h.User == "" && h.MatterID == "":
			news = true
		case h.MatterID != "":
			news, err = s.visible(ctx, rd, now, h.MatterID)
		}
		return err
	})
	if err != nil {
		return p, false, err
	}
	return now, news, nil
}
