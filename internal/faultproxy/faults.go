package faultproxy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// decide picks the fault and latency of one request.
func (p *Proxy) decide(r *http.Request, body []byte) (Fault, time.Duration, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[r.URL.Path]++
	latency := p.latency
	fault := Pass
	if p.rule != nil {
		if f, ok := p.rule(r.URL.Path, plainBody(r, body)); ok {
			if f != Pass {
				p.faults[f]++
			}
			return f, latency, 0
		}
	}
	for i, q := range p.queue {
		if strings.HasPrefix(r.URL.Path, q.prefix) {
			fault = q.fault
			p.queue = append(p.queue[:i:i], p.queue[i+1:]...)
			p.faults[fault]++
			return fault, latency, 0
		}
	}
	rd := p.random
	if rd.MaxLatency > 0 {
		latency += time.Duration(p.rnd.Int64N(int64(rd.MaxLatency)))
	}
	var life time.Duration
	x := p.rnd.Float64()
	switch {
	case x < rd.Reset:
		fault = Reset
	case x < rd.Reset+rd.Drop:
		fault = Drop
	case x < rd.Reset+rd.Drop+rd.Unavailable:
		fault = Unavailable
	case x < rd.Reset+rd.Drop+rd.Unavailable+rd.Duplicate:
		fault = Duplicate
	default:
		if isStream(r) && rd.CloseStream > 0 && p.rnd.Float64() < rd.CloseStream {
			fault = CloseStream
			if rd.StreamLife > 0 {
				life = time.Duration(p.rnd.Int64N(int64(rd.StreamLife)))
			}
		}
	}
	if isStream(r) && (fault == Drop || fault == Duplicate) {
		// A stream never ends, so its answer cannot be read to the end
		// first: cut it at once instead.
		fault = Reset
	}
	if fault != Pass {
		p.faults[fault]++
	}
	return fault, latency, life
}

// reset closes the client's connection abruptly (TCP RST), as a network
// failure does.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // best effort: a FIN is a failure too
	}
	conn.Close()
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", code, msg)
}

// plainBody is a request body as its rule reads it: decoded when it came
// gzip-compressed (the request is forwarded as it came).
func plainBody(r *http.Request, body []byte) []byte {
	if !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return body
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxBody))
	if err != nil {
		return body
	}
	return plain
}
