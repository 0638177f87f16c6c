package server

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casefile/model"
)

// metrics are the server's Prometheus metrics, written in the text
// exposition format. (The prometheus client module's dependencies are not
// part of this build, and the handful of series here need little code.)
type metrics struct {
	s        *Server
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, code → count
	ops      map[model.OpResult]uint64
	push     *histogram
	pull     *histogram
	streams  gauge
	cursors  map[[2]string]int64 // user, device → last cursor handed out
}

// gauge is an integer gauge safe for concurrent use.
type gauge struct{ v atomic.Int64 }

func (g *gauge) Inc() { g.v.Add(1) }
func (g *gauge) Dec() { g.v.Add(-1) }

// histogram counts observations in cumulative buckets.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

func newHistogram(start, factor float64, n int) *histogram {
	h := &histogram{bounds: make([]float64, n), counts: make([]uint64, n+1)}
	for i := range h.bounds {
		h.bounds[i] = start * math.Pow(factor, float64(i))
	}
	return h
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	h.count++
	h.sum += v
}

func newMetrics(s *Server) *metrics {
	return &metrics{
		s:        s,
		requests: map[[2]string]uint64{},
		ops:      map[model.OpResult]uint64{},
		push:     newHistogram(0.001, 2, 16),
		pull:     newHistogram(0.0005, 2, 16),
		cursors:  map[[2]string]int64{},
	}
}

func (m *metrics) request(route string, code int, _ time.Duration) {
	m.mu.Lock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	m.mu.Unlock()
}

func (m *metrics) pushed(d time.Duration) {
	m.mu.Lock()
	m.push.observe(d.Seconds())
	m.mu.Unlock()
}

func (m *metrics) opResult(r model.OpResult) {
	m.mu.Lock()
	m.ops[r]++
	m.mu.Unlock()
}

func (m *metrics) pulled(p *principal, cursor int64, d time.Duration) {
	m.mu.Lock()
	m.pull.observe(d.Seconds())
	m.cursors[[2]string{p.user, p.device}] = cursor
	m.mu.Unlock()
}

func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		head, err := m.s.Head(ctx)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w, head, err == nil)
	})
}

func (m *metrics) write(w io.Writer, head int64, headOK bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	family := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("casefile_http_requests_total", "counter", "HTTP requests by route and status code.")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(w, "casefile_http_requests_total{route=%s,code=%s} %d\n", label(k[0]), label(k[1]), m.requests[k])
	}
	family("casefile_ops_total", "counter", "Pushed ops by result.")
	for _, r := range []model.OpResult{model.ResultApplied, model.ResultMerged, model.ResultConflict, model.ResultRejected} {
		fmt.Fprintf(w, "casefile_ops_total{result=%s} %d\n", label(string(r)), m.ops[r])
	}
	writeHistogram(w, "casefile_push_seconds", "Time to apply a push batch.", m.push)
	writeHistogram(w, "casefile_pull_seconds", "Time to answer a pull page.", m.pull)
	family("casefile_event_streams", "gauge", "Connected event streams.")
	fmt.Fprintf(w, "casefile_event_streams %d\n", m.streams.v.Load())
	if !headOK {
		return
	}
	family("casefile_head", "gauge", "The server's change sequence.")
	fmt.Fprintf(w, "casefile_head %d\n", head)
	family("casefile_device_backlog", "gauge", "Changes between the head and the last cursor a device pulled.")
	devs := make([][2]string, 0, len(m.cursors))
	for k := range m.cursors {
		devs = append(devs, k)
	}
	slices.SortFunc(devs, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range devs {
		fmt.Fprintf(w, "casefile_device_backlog{user=%s,device=%s} %d\n", label(k[0]), label(k[1]), max(head-m.cursors[k], 0))
	}
}

func writeHistogram(w io.Writer, name, help string, h *histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.count,
		name, strconv.FormatFloat(h.sum, 'g', -1, 64), name, h.count)
}

// label quotes a label value for the exposition format.
func label(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
