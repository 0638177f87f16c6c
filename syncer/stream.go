package syncer

import (
	"context"
	"encoding/json"
	"time"

	"casefile/apiclient"
	"casefile/internal/safetext"
	"casefile/protocol"
)

// streamIdle is how long a stream may stay silent (no event, no
// heartbeat) before it is presumed dead and reopened. Servers send
// heartbeats well within it.
const streamIdle = 75 * time.Second

// streamCapWait is how long to wait before reopening a stream the server
// closed because newer streams of the same sign-in took its place (it
// asks for a minute too): reconnecting at once would close one of them.
const streamCapWait = time.Minute

// closedError turns the server's "closed" event into the error it reports:
// unauthorized ends the subscription as a refused token does; any other
// reason is a failure to wait out.
func closedError(ev apiclient.SSEEvent) *apiclient.Error {
	var e protocol.Error
	if err := json.Unmarshal([]byte(ev.Data), &e); err != nil || e.Message == "" {
		e = protocol.Error{Code: protocol.CodeInternal, Message: "The server closed the event stream."}
	}
	ce := &apiclient.Error{Class: apiclient.ClassFailing, Code: e.Code, Message: safetext.Line(e.Message)}
	switch e.Code {
	case protocol.CodeUnauthorized, protocol.CodeWrongUser, protocol.CodeDeviceRevoked:
		ce.Class = apiclient.ClassUnauthorized
	case protocol.CodeTooManyStreams:
		ce.RetryAfter = streamCapWait
	}
	return ce
}

// subscribe keeps an event stream open until ctx is done, calling onPoke
// for every poke and onOpen when a stream opens (the caller pulls then:
// pokes may have been missed while it was closed). It reconnects with
// backoff and returns early only for ClassUnauthorized, with the error.
func subscribe(ctx context.Context, c Remote, b Backoff, onOpen func(), onPoke func(seq int64), onFail func(error)) error {
	lastID := ""
	attempt := 0
	for {
		st, err := c.Events(ctx, lastID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			onFail(err)
			if apiclient.ClassOf(err) == apiclient.ClassUnauthorized {
				return err
			}
			// A busy server's Retry-After holds for its stream too.
			if !sleep(ctx, waitAfter(b.Delay(attempt), err)) {
				return ctx.Err()
			}
			attempt++
			continue
		}
		onOpen()
		var closed *apiclient.Error
		got := readStream(ctx, st, func(ev apiclient.SSEEvent) {
			if ev.ID != "" {
				lastID = ev.ID
			}
			if ev.Event == protocol.EventClosed {
				closed = closedError(ev)
				return
			}
			if ev.Event != protocol.EventPoke {
				return
			}
			p, err := apiclient.ParsePoke(ev)
			if err != nil {
				onFail(err)
				return
			}
			onPoke(p.Seq)
		})
		st.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if got {
			attempt = 0 // the stream worked for a while: reconnect promptly
		}
		wait := b.Delay(attempt)
		if closed != nil {
			// The server said why it ended the stream.
			onFail(closed)
			if closed.Class == apiclient.ClassUnauthorized {
				return closed
			}
			wait = waitAfter(wait, closed)
		}
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
		attempt++
	}
}

// readStream hands events to fn until the stream ends, fails or stays
// idle past streamIdle. It reports whether any event or heartbeat came.
func readStream(ctx context.Context, st *apiclient.Stream, fn func(apiclient.SSEEvent)) bool {
	idle := time.AfterFunc(streamIdle, func() { st.Close() })
	defer idle.Stop()
	got := false
	for ctx.Err() == nil {
		ev, err := st.Next()
		if err != nil {
			return got
		}
		got = true
		idle.Reset(streamIdle)
		if !ev.Comment {
			fn(ev)
		}
	}
	return got
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
