package apiclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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

// ParsePoke reads the data of a "poke" event; a malformed one is a
// ClassFailing error (the server is not following the protocol).
func ParsePoke(ev SSEEvent) (protocol.Poke, error) {
	var p protocol.Poke
	if err := strictUnmarshal([]byte(ev.Data), &p); err != nil {
		return p, protocolError("poke: %v", err)
	}
	if p.Seq < 0 {
		return p, protocolError("poke: negative sequence %d", p.Seq)
	}
	return p, nil
}
