package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"casefile/model"
	"casefile/server/store"
)

// backlogBuckets bound the device backlog histogram, in changes.
var backlogBuckets = []float64{0, 10, 100, 1_000, 10_000, 100_000, 1_000_000}

// metrics are the server's Prometheus metrics, in a registry of the
// server's own (several servers in one process never collide) served by
// promhttp. No label carries a user or device name: label values come
// from fixed sets (routes, status codes, op results), and the per-device
// backlog is summed up across devices instead of labelled by device.
type metrics struct {
	s        *Server
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	ops      *prometheus.CounterVec
	push     prometheus.Histogram
	pull     prometheus.Histogram
	// pullCut counts pull pages that stopped at their byte budget
	// before their limit.
	pullCut prometheus.Counter
	// answerTooLarge counts pushes refused because their answer would
	// pass Options.PushAnswerBytes.
	answerTooLarge prometheus.Counter
	// writeWait and writeHeld time the store's committed write
	// transactions (store.WriteTimer): waiting for its write lock, then
	// holding it.
	writeWait, writeHeld prometheus.Histogram
	streams              prometheus.Gauge
	// inFlight counts the requests being handled (event streams
	// included); RequestsInFlight reads it.
	inFlight atomic.Int64
	files    *prometheus.CounterVec
	// loginRefused counts refused logins by reason; loginLockouts the
	// user names and addresses locked for failing too often.
	loginRefused  *prometheus.CounterVec
	loginLockouts prometheus.Counter
	// connsRefused counts connections closed at once for want of room,
	// connsEvicted idle ones closed to make room (connGuard).
	connsRefused, connsEvicted prometheus.Counter

	mu      sync.Mutex
	cursors map[device]pulledTo
}

// device is a user's device as its token names it.
type device struct{ user, name string }

// pulledTo is the last cursor a device was handed and when.
type pulledTo struct {
	cursor int64
	at     time.Time
}

// fileBytes counts bytes of a file chunk moved in a direction (up, down).
func (m *metrics) fileBytes(direction string, n int) {
	m.files.WithLabelValues(direction).Add(float64(n))
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		s:   s,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casefile_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casefile_ops_total", Help: "Pushed ops by result.",
		}, []string{"result"}),
		push: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casefile_push_seconds", Help: "Time to apply a push batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		pull: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casefile_pull_seconds", Help: "Time to answer a pull page.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		writeWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casefile_store_write_wait_seconds", Help: "Time a committed write transaction waited for the store's write lock.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		writeHeld: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casefile_store_write_held_seconds", Help: "Time a committed write transaction held the store's write lock, to its commit's end.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casefile_event_streams", Help: "Connected event streams.",
		}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casefile_file_bytes_total", Help: "Bytes of attached files received (up) and sent (down), by chunk.",
		}, []string{"direction"}),
		loginRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casefile_login_refused_total", Help: "Refused logins by reason (bad_credentials, malformed, locked, busy).",
		}, []string{"reason"}),
		pullCut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casefile_pull_pages_cut_total", Help: "Pull pages that stopped at the server's byte budget before the limit asked for.",
		}),
		answerTooLarge: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casefile_push_answer_too_large_total", Help: "Pushes refused (413 answer_too_large) because their answer would pass the answer bound; nothing of them was applied.",
		}),
		loginLockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casefile_login_lockouts_total", Help: "User names and client addresses locked after too many failed logins.",
		}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casefile_connections_refused_total", Help: "Connections closed on arrival: the server held as many as it may, none of them idle.",
		}),
		connsEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casefile_connections_evicted_total", Help: "Idle connections closed to make room for new ones, taken from the address holding the most.",
		}),
		cursors: map[device]pulledTo{},
	}
	for _, r := range []string{refusedCredentials, refusedMalformed, refusedLocked, refusedBusy} {
		m.loginRefused.WithLabelValues(r)
	}
	// Every result shows from the start, at zero.
	for _, r := range []model.OpResult{model.ResultApplied, model.ResultMerged, model.ResultConflict, model.ResultRejected} {
		m.ops.WithLabelValues(string(r))
	}
	// Only the server's own series: the Go runtime's and the process's
	// would describe the machine on an endpoint that needs no token.
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "casefile_http_requests_in_flight", Help: "HTTP requests being handled, event streams included.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	m.reg.MustRegister(m.requests, m.ops, m.push, m.pull, m.pullCut, m.answerTooLarge, m.writeWait, m.writeHeld, m.streams, inFlight, m.files, m.loginRefused,
		m.loginLockouts, m.connsRefused, m.connsEvicted, headCollector{m})
	return m
}

func (m *metrics) request(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

func (m *metrics) pushed(d time.Duration) { m.push.Observe(d.Seconds()) }

// writeTimed records a committed write transaction's timing.
func (m *metrics) writeTimed(w store.WriteTiming) {
	m.writeWait.Observe(w.Wait.Seconds())
	m.writeHeld.Observe(w.Held.Seconds())
}

func (m *metrics) opResult(r model.OpResult) { m.ops.WithLabelValues(string(r)).Inc() }

func (m *metrics) pulled(p *principal, cursor int64, d time.Duration) {
	m.pull.Observe(d.Seconds())
	m.mu.Lock()
	m.cursors[device{p.user, p.device}] = pulledTo{cursor: cursor, at: m.s.now()}
	m.mu.Unlock()
}

// backlogs returns each device's backlog behind head, forgetting devices
// that have not pulled within the retention (their cursors are compacted
// past, so they resync from 0 anyway).
func (m *metrics) backlogs(head int64) []int64 {
	cut := m.s.now().Add(-m.s.opts.Retention)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int64, 0, len(m.cursors))
	for d, p := range m.cursors {
		if p.at.Before(cut) {
			delete(m.cursors, d)
			continue
		}
		out = append(out, max(head-p.cursor, 0))
	}
	return out
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.s.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

var (
	headDesc = prometheus.NewDesc("casefile_head", "The server's change sequence.", nil, nil)
	// A histogram across devices, not a series per device: a firm has
	// thousands of devices, and a device label would name people.
	backlogDesc = prometheus.NewDesc("casefile_device_backlog",
		"Changes between the head and the last cursor each device pulled from this server, across devices.", nil, nil)
	backlogMaxDesc = prometheus.NewDesc("casefile_device_backlog_max",
		"The largest backlog of a device that pulled from this server.", nil, nil)
)

// headCollector reads the head at scrape time and sets the devices'
// backlogs against it.
type headCollector struct{ m *metrics }

func (c headCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- headDesc
	ch <- backlogDesc
	ch <- backlogMaxDesc
}

func (c headCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(c.m.s.ctx, 5*time.Second)
	defer cancel()
	head, err := c.m.s.Head(ctx)
	if err != nil {
		// The rest of the scrape still answers; the log says why these
		// series are missing.
		ch <- prometheus.NewInvalidMetric(headDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(head))
	backlogs := c.m.backlogs(head)
	buckets := make(map[float64]uint64, len(backlogBuckets))
	for _, le := range backlogBuckets {
		buckets[le] = 0
	}
	var sum float64
	var top int64
	for _, b := range backlogs {
		sum += float64(b)
		top = max(top, b)
		for _, le := range backlogBuckets {
			if float64(b) <= le {
				buckets[le]++
			}
		}
	}
	ch <- prometheus.MustNewConstHistogram(backlogDesc, uint64(len(backlogs)), sum, buckets)
	ch <- prometheus.MustNewConstMetric(backlogMaxDesc, prometheus.GaugeValue, float64(top))
}
