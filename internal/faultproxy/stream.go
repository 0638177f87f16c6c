package faultproxy

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CloseStreams cuts every open event stream and returns how many.
func (p *Proxy) CloseStreams() int {
	p.mu.Lock()
	ss := make([]*stream, 0, len(p.streams))
	for s := range p.streams {
		ss = append(ss, s)
	}
	p.mu.Unlock()
	for _, s := range ss {
		s.cut()
	}
	return len(ss)
}

func isStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// stream is one event stream being piped to a client.
type stream struct {
	once   sync.Once
	cancel context.CancelFunc
	conn   func()
}

func (s *stream) cut() { s.once.Do(func() { s.cancel(); s.conn() }) }

func (p *Proxy) pipeStream(w http.ResponseWriter, r *http.Request, resp *http.Response, fault Fault, life time.Duration, bw int) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := &stream{cancel: cancel, conn: func() { resp.Body.Close() }}
	p.mu.Lock()
	p.streams[s] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.streams, s)
		p.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	rc.Flush() //nolint:errcheck // a client gone is noticed on the next write
	out := Throttle(ctx, w, bw, rc.Flush)
	if fault == CloseStream && life > 0 {
		t := time.AfterFunc(life, s.cut)
		defer t.Stop()
	}
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush() //nolint:errcheck // see above
			if fault == CloseStream && life == 0 && bytes.Contains(buf[:n], []byte("\n\n")) {
				s.cut()
				return
			}
		}
		if err != nil {
			return
		}
	}
}
