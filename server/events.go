package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	// pokeWriteTimeout drops a client whose connection takes no poke for
	// this long: a poke is a few dozen bytes, so the connection's buffers
	// are full only when the client has stopped reading, and a poker
	// waiting on it delays every other stream's pokes.
	pokeWriteTimeout = 2 * time.Second
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

// openRead reads the head a new stream counts from and, when the hub does
// not know it yet, which matters the stream's user sees. A user whose
// matters the hub does not know is handed every hint; read only at a
// stream's first poke, 10,000 streams opened before a burst of pushes
// were each handed all of them until every user's matters were read one
// by one.
func (s *Server) openRead(ctx context.Context, p *principal) (int64, error) {
	var head store.Head
	var matters []string
	at := s.now()
	gen, due := s.hub.accessDue(p.user, at, s.opts.Heartbeat)
	err := s.reads.read(ctx, func(ctx context.Context, r store.Reader) (err error) {
		if head, err = r.Head(ctx); err != nil || !due || p.admin() {
			return err
		}
		matters, err = r.MattersOf(ctx, p.user)
		return err
	})
	if err != nil {
		return 0, err
	}
	if due {
		s.hub.setAccess(p.user, gen, p.role, matters, at)
	}
	return head.Seq, nil
}

// handleEvents is the realtime stream: a "poke" event with the change
// sequence whenever something the user may see changes, and a heartbeat
// comment between them. The token and the user's role are checked again
// on every heartbeat and before every poke: a revoked or expired token's
// stream ends with a "closed" event, and a role change applies at once.
// Pokes are the pokers' (pokeLoop); this goroutine greets, keeps the
// heartbeat and ends the stream.
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
	sub, ok := s.hub.subscribe(p.user, p.tokenHash, p.origin, s.opts.StreamsPerToken, s.opts.StreamsPerUser)
	if !ok {
		s.writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			msg: "The server is shutting down; reconnect shortly."})
		return
	}
	defer s.hub.unsubscribe(sub)
	ctx := r.Context()
	head, err := s.openRead(ctx, p)
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
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	sub.wmu.Lock()
	sub.out, sub.last, sub.p = &streamOut{w: w, rc: rc}, last, p
	ok = sub.out.write(streamWriteTimeout, "retry: %d\n: connected\n\n", streamRetry.Milliseconds())
	switch {
	case !ok:
	case resume && last > head:
		// An id this server never gave, as a cursor beyond the head is:
		// poke with the head so the client pulls (and learns from the
		// pull's 410 that it must start over) and counts from here.
		ok = sub.poke(head, true)
	case resume && head > last:
		ok = sub.poke(head, false)
	}
	sub.state = streamOpen
	if !ok {
		sub.state = streamEnded
	}
	sub.wmu.Unlock()
	defer func() {
		sub.wmu.Lock()
		sub.state = streamEnded
		sub.wmu.Unlock()
	}()
	if !ok {
		return
	}
	if sub.pending() { // hints that came before the greeting
		s.hub.ready(sub)
	}
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.hub.done:
			return
		case <-sub.gone:
			return
		case why := <-sub.end:
			sub.wmu.Lock()
			sub.closeWith(why)
			sub.wmu.Unlock()
			return
		case <-tick.C:
			sub.wmu.Lock()
			p := sub.p
			sub.wmu.Unlock()
			now, err := s.heartbeatCheck(ctx, sub, p)
			sub.wmu.Lock()
			if err == nil {
				sub.p = now
				if sub.state != streamOpen || !sub.out.write(streamWriteTimeout, ": heartbeat\n\n") {
					sub.wmu.Unlock()
					return
				}
			}
			ended := sub.endFor(err)
			sub.wmu.Unlock()
			if ended {
				return
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("event stream check failed", "user", p.user, "err", err)
			}
		}
	}
}

// streamOut writes a stream's events.
type streamOut struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// write writes an event as format and args, then flushes it.
func (o *streamOut) write(timeout time.Duration, format string, args ...any) bool {
	return o.writeBytes(timeout, fmt.Appendf(nil, format, args...))
}

// writeBytes writes b as it is, then flushes it.
func (o *streamOut) writeBytes(timeout time.Duration, b []byte) bool {
	_ = o.rc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := o.w.Write(b); err != nil {
		return false
	}
	return o.rc.Flush() == nil
}

// poke writes a poke; wmu is held.
func (sub *subscriber) poke(seq int64, resync bool) bool {
	sub.last = seq
	var buf [96]byte
	return sub.out.writeBytes(pokeWriteTimeout, appendPoke(buf[:0], seq, resync))
}

// appendPoke appends a poke event as fmt and encoding/json would write
// it (protocol.Poke), without either: a push pokes a dozen streams or more.
func appendPoke(b []byte, seq int64, resync bool) []byte {
	b = strconv.AppendInt(append(b, "id: "...), seq, 10)
	b = append(b, "\nevent: "+protocol.EventPoke+"\ndata: {\"seq\":"...)
	b = strconv.AppendInt(b, seq, 10)
	if resync {
		b = append(b, `,"resync":true`...)
	}
	return append(b, "}\n\n"...)
}

// closeWith writes the stream's last event, saying why it ends, and ends
// it; wmu is held.
func (sub *subscriber) closeWith(why *streamEnd) {
	if sub.state == streamOpen {
		data, _ := json.Marshal(protocol.Error{Code: why.code, Message: why.msg})
		sub.out.write(pokeWriteTimeout, "retry: %d\nevent: %s\ndata: %s\n\n", why.retry.Milliseconds(), protocol.EventClosed, data)
	}
	sub.drop()
}

// drop ends the stream: its goroutine returns, and pokers pass it over;
// wmu is held.
func (sub *subscriber) drop() {
	if sub.state == streamOpen {
		close(sub.gone)
	}
	sub.state = streamEnded
}

// endFor ends the stream when a check found its token gone or its device
// revoked, and reports whether it did; wmu is held.
func (sub *subscriber) endFor(err error) bool {
	switch {
	case errors.Is(err, store.ErrNotFound):
		sub.closeWith(endUnauthorized)
	case errors.Is(err, errRevokedDevice):
		sub.closeWith(endRevoked)
	default:
		return false
	}
	return true
}

// heartbeatCheck asks again who holds the stream's token (ErrNotFound once
// it is revoked or expired, or its user is gone), and reads the user's
// matters for the hub when its set of them is missing or a heartbeat old.
func (s *Server) heartbeatCheck(ctx context.Context, sub *subscriber, p *principal) (*principal, error) {
	var now *principal
	var matters []string
	at := s.now()
	gen, due := s.hub.accessDue(sub.user, at, s.opts.Heartbeat)
	err := s.reads.readLater(ctx, func(ctx context.Context, rd store.Reader) (err error) {
		if now, err = s.principalOf(ctx, rd, p.tokenHash); err != nil {
			return err
		}
		if due && now.role != protocol.RoleAdmin {
			matters, err = rd.MattersOf(ctx, now.user)
		}
		return err
	})
	if err != nil {
		return p, err
	}
	if due {
		s.hub.setAccess(sub.user, gen, now.role, matters, at)
	}
	return now, nil
}
