package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
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
	if !resume {
		// A client pulls when its stream opens, after this head: a hint
		// for a change up to it is no news, though the hub's dispatcher,
		// running behind the commits, may hand it to this stream yet.
		last = head
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
	batch := make([]stampedHint, 0, streamHintBuffer)
	for {
		var news int64
		select {
		case <-ctx.Done():
			return
		case <-s.hub.done:
			return
		case why := <-sub.end:
			closeWith(why)
			return
		case <-tick.C:
			if p, _, err = s.streamCheck(ctx, sub, p, nil); err == nil && !write(": heartbeat\n\n") {
				return
			}
		case <-sub.lost:
			if p, _, err = s.streamCheck(ctx, sub, p, nil); err == nil {
				if h, herr := s.Head(ctx); herr == nil && h > last && !poke(h, false) {
					return
				}
			}
		case h := <-sub.hints:
			// Every hint waiting is checked at once, and the stream pokes
			// once with the newest that is news.
			batch = append(batch[:0], h)
		more:
			for len(batch) < cap(batch) {
				select {
				case h := <-sub.hints:
					batch = append(batch, h)
				default:
					break more
				}
			}
			batch = slices.DeleteFunc(batch, func(h stampedHint) bool { return h.Seq <= last })
			if len(batch) == 0 {
				continue
			}
			if p, news, err = s.streamCheck(ctx, sub, p, batch); err == nil && news > 0 && !poke(news, false) {
				return
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
// is revoked or expired, or its user is gone) and which of the hints are
// news for them now: a change in a matter they see, an access change of
// theirs, or a hint for everyone. It returns the newest such hint's seq
// (0 if none). A check another stream of the token began after these
// hints were handed out answers for them too (see tokenCheck); heartbeats
// (no hints) always read. When the hub's set of the user's matters is
// missing or a heartbeat old, it is read again in the same transaction.
func (s *Server) streamCheck(ctx context.Context, sub *subscriber, p *principal, hints []stampedHint) (*principal, int64, error) {
	tc := sub.check
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if now, news, ok := tc.answer(hints); ok {
		return now, news, nil
	}
	var now *principal
	var news int64
	var matters []string
	began := time.Now()
	at := s.now()
	gen, due := s.hub.accessDue(sub.user, at, s.opts.Heartbeat)
	sees := map[string]bool{}
	err := s.reads.readLater(ctx, func(ctx context.Context, rd store.Reader) (err error) {
		if now, err = s.principalOf(ctx, rd, p.tokenHash); err != nil {
			return err
		}
		for _, h := range hints {
			if h.MatterID != "" && h.User != now.user {
				if _, known := sees[h.MatterID]; !known {
					if sees[h.MatterID], err = s.visible(ctx, rd, now, h.MatterID); err != nil {
						return err
					}
				}
			}
			if isNews(h.Hint, now, sees) {
				news = max(news, h.Seq)
			}
		}
		if due && now.role != protocol.RoleAdmin {
			matters, err = rd.MattersOf(ctx, now.user)
		}
		return err
	})
	if err != nil {
		tc.p = nil
		return p, 0, err
	}
	tc.began, tc.p, tc.sees = began, now, sees
	if due {
		s.hub.setAccess(sub.user, gen, now.role, matters, at)
	}
	return now, news, nil
}

// isNews says whether a hint is news for p, given which of the matters
// hints name p sees.
func isNews(h store.Hint, p *principal, sees map[string]bool) bool {
	switch {
	case h.User == p.user, h.User == "" && h.MatterID == "":
		return true
	case h.MatterID != "":
		return sees[h.MatterID]
	}
	return false
}

// answer answers for hints from the token's last check when it began
// after every one of them was handed out and knows their matters; tc.mu is
// held.
func (tc *tokenCheck) answer(hints []stampedHint) (*principal, int64, bool) {
	if len(hints) == 0 || tc.p == nil {
		return nil, 0, false
	}
	var news int64
	for _, h := range hints {
		if h.at.After(tc.began) {
			return nil, 0, false
		}
		if _, known := tc.sees[h.MatterID]; h.MatterID != "" && h.User != tc.p.user && !known {
			return nil, 0, false
		}
		if isNews(h.Hint, tc.p, tc.sees) {
			news = max(news, h.Seq)
		}
	}
	return tc.p, news, true
}
