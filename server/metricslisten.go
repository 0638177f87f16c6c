package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"casefile/protocol"
)

var errMetricsToken = &apiError{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized,
	msg: "The metrics need the metrics token: send Authorization: Bearer <token>."}

// metricsRoute is GET /metrics, behind the metrics token when one is set.
func (s *Server) metricsRoute() route {
	h := s.metrics.handler()
	if s.opts.MetricsToken == "" {
		return route{http.MethodGet, "/metrics", h.ServeHTTP}
	}
	// Digests of equal length, so the comparison takes the same time
	// whatever the length of the token sent.
	want := sha256.Sum256([]byte(s.opts.MetricsToken))
	return route{http.MethodGet, "/metrics", func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="casefile-metrics"`)
			s.writeError(w, r, errMetricsToken)
			return
		}
		h.ServeHTTP(w, r)
	}}
}

// listenMetrics opens the metrics listener of Options.MetricsListen, or
// returns nil when /metrics is served with the API.
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// The *net.OpError repeats the address we already name.
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return nil, fmt.Errorf("cannot listen for metrics on %s: %w", addr, err)
	}
	return ln, nil
}

// serveMetrics answers /metrics, and nothing else, on ln until Shutdown
// or Close.
func (s *Server) serveMetrics(ln net.Listener) {
	defer s.wg.Done()
	err := s.metricsHTTP.Serve(jsonErrorListener{ln})
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("metrics listener stopped", "addr", ln.Addr().String(), "err", err)
	}
}
