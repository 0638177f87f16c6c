package syncer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"casefile/protocol"
)

// SSEEvent is one server-sent event, or a comment (a heartbeat).
type SSEEvent struct {
	ID      string // the id: field; "" when the event had none
	Event   string // the event: field; "message" when absent
	Data    string // data: lines joined by "\n"
	Comment bool   // a ":" line with no event: the server's heartbeat
}

// maxSSELine bounds one line of the stream; pokes are tiny.
const maxSSELine = 64 << 10

// SSEReader parses a text/event-stream body.
type SSEReader struct {
	r *bufio.Reader
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, 4096)}
}

// Next returns the next event or heartbeat. It returns io.EOF when the
// stream ends between events and io.ErrUnexpectedEOF when it ends inside one.
func (s *SSEReader) Next() (SSEEvent, error) {
	var ev SSEEvent
	var data []string
	started := false
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && started {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		if line == "" {
			if !started {
				continue
			}
			if ev.Event == "" {
				ev.Event = "message"
			}
			ev.Data = strings.Join(data, "\n")
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			if !started {
				return SSEEvent{Comment: true, Data: strings.TrimPrefix(strings.TrimPrefix(line, ":"), " ")}, nil
			}
			continue
		}
		started = true
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.ID = value
			}
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		}
		// retry: and unknown fields are ignored, as the spec says.
	}
}

// readLine returns one line without its ending (\n or \r\n).
func (s *SSEReader) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxSSELine {
			return "", fmt.Errorf("event stream line longer than %d bytes", maxSSELine)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// Stream is an open event stream.
type Stream struct {
	body   io.ReadCloser
	reader *SSEReader
	cancel context.CancelFunc
}

// Next returns the next event or heartbeat.
func (s *Stream) Next() (SSEEvent, error) { return s.reader.Next() }

// Close ends the stream.
func (s *Stream) Close() error {
	s.cancel()
	return s.body.Close()
}

// Events opens the event stream, resuming after lastEventID when not "".
// The stream lives until ctx is done or Close.
func (c *Client) Events(ctx context.Context, lastEventID string) (*Stream, error) {
	sctx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(sctx, http.MethodGet, protocol.PathEvents, nil, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("events: %w", transportError(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("events: %w", decodeError(resp, c.now()))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("events: %w", protocolError("event stream has content type %q", ct))
	}
	return &Stream{body: resp.Body, reader: NewSSEReader(resp.Body), cancel: cancel}, nil
}

// ParsePoke reads the data of a "poke" event.
func ParsePoke(ev SSEEvent) (protocol.Poke, error) {
	var p protocol.Poke
	if err := strictUnmarshal([]byte(ev.Data), &p); err != nil {
		return p, fmt.Errorf("poke: %w", err)
	}
	if p.Seq < 0 {
		return p, fmt.Errorf("poke: negative sequence %d", p.Seq)
	}
	return p, nil
}

// streamIdle is how long a stream may stay silent (no event, no
// heartbeat) before it is presumed dead and reopened. Servers send
// heartbeats well within it.
const streamIdle = 75 * time.Second

// subscribe keeps an event stream open until ctx is done, calling onPoke
// for every poke and onOpen when a stream opens (the caller pulls then:
// pokes may have been missed while it was closed). It reconnects with
// backoff and returns early only for ClassUnauthorized, with the error.
func (c *Client) subscribe(ctx context.Context, b Backoff, onOpen func(), onPoke func(seq int64), onFail func(error)) error {
	lastID := ""
	attempt := 0
	for {
		st, err := c.Events(ctx, lastID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			onFail(err)
			if ClassOf(err) == ClassUnauthorized {
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
		got := readStream(ctx, st, func(ev SSEEvent) {
			if ev.ID != "" {
				lastID = ev.ID
			}
			if ev.Event != "poke" {
				return
			}
			p, err := ParsePoke(ev)
			if err != nil {
				onFail(protocolError("%v", err))
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
		if !sleep(ctx, b.Delay(attempt)) {
			return ctx.Err()
		}
		attempt++
	}
}

// readStream hands events to fn until the stream ends, fails or stays
// idle past streamIdle. It reports whether any event or heartbeat came.
func readStream(ctx context.Context, st *Stream, fn func(SSEEvent)) bool {
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
