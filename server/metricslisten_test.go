package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

const metricsToken = "7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e"

// withMetrics serves /metrics on a listener of its own and/or behind a
// token.
func withMetrics(listen, token string) servertest.Option {
	return func(o *server.Options) { o.MetricsListen, o.MetricsToken = listen, token }
}

// metricsURL is the base URL of srv's metrics listener.
func metricsURL(t *testing.T, srv *servertest.Server) string {
	t.Helper()
	a := srv.MetricsAddr()
	if a == nil {
		t.Fatal("no metrics listener")
	}
	return "http://" + a.String()
}

// errorCode checks that r is the API's JSON error and returns its code.
func errorCode(t *testing.T, r rawResponse) protocol.Code {
	t.Helper()
	var e protocol.ErrorResponse
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer is %q, not JSON: %s", ct, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("error answer %q is not {\"error\":{\"code\",\"message\"}}: %v", r.body, err)
	}
	return e.Error.Code
}

// families parses an exposition text and returns its family names.
func families(t *testing.T, body string) map[string]bool {
	t.Helper()
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metrics are not valid exposition text: %v\n%s", err, body)
	}
	names := map[string]bool{}
	for n := range fams {
		names[n] = true
	}
	return names
}

var serverFamilies = []string{
	"casefile_http_requests_total", "casefile_ops_total", "casefile_push_seconds", "casefile_pull_seconds",
	"casefile_store_write_wait_seconds", "casefile_store_write_held_seconds",
	"casefile_event_streams", "casefile_http_requests_in_flight", "casefile_head", "casefile_device_backlog", "casefile_device_backlog_max",
}

// TestMetricsOwnListener: with MetricsListen set, /metrics answers there
// and only there, and that listener answers nothing of the API.
func TestMetricsOwnListener(t *testing.T) {
	srv := servertest.Start(t, withMetrics("127.0.0.1:0", ""))
	alice := srv.NewUser(t, "alice", server.RoleMember)
	alice.CreateMatter(t, "Smith v Jones")
	metrics := metricsURL(t, srv)
	if metrics == srv.URL {
		t.Fatal("the metrics listener is the API's")
	}

	r := do(t, http.MethodGet, srv.URL+"/metrics", "", "", nil)
	if r.status != http.StatusNotFound || errorCode(t, r) != protocol.CodeNotFound {
		t.Errorf("API listener /metrics: %d %s, want 404 not_found", r.status, r.body)
	}

	r = do(t, http.MethodGet, metrics+"/metrics", "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("metrics listener /metrics: %d %s", r.status, r.body)
	}
	names := families(t, r.body)
	for _, n := range serverFamilies {
		if !names[n] {
			t.Errorf("no metric family %s", n)
		}
	}
	// Requests on the API's listener are counted on the metrics listener.
	if !strings.Contains(r.body, `casefile_http_requests_total{code="200",route="/v1/push"} 1`) {
		t.Errorf("the push is not counted:\n%s", r.body)
	}

	for _, c := range []struct{ method, path, token string }{
		{http.MethodGet, protocol.PathHealth, ""},
		{http.MethodPost, protocol.PathLogin, ""},
		{http.MethodGet, protocol.PathPull, alice.Token},
		{http.MethodPost, protocol.PathPush, alice.Token},
		{http.MethodGet, protocol.PathEvents, alice.Token},
		{http.MethodGet, "/", ""},
		{http.MethodGet, "/metrics/", ""},
	} {
		r := do(t, c.method, metrics+c.path, "", c.token, nil)
		if r.status != http.StatusNotFound || errorCode(t, r) != protocol.CodeNotFound {
			t.Errorf("metrics listener %s %s: %d %s, want 404 not_found", c.method, c.path, r.status, r.body)
		}
	}
	r = do(t, http.MethodPost, metrics+"/metrics", "", "", nil)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != http.MethodGet {
		t.Errorf("POST /metrics: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

// TestMetricsToken: with MetricsToken set, /metrics wants it as a bearer
// token wherever it is served, and refuses anything else with the API's
// 401.
func TestMetricsToken(t *testing.T) {
	for _, placement := range []struct {
		name, listen string
	}{
		{"with the API", ""},
		{"on its own listener", "127.0.0.1:0"},
	} {
		t.Run(placement.name, func(t *testing.T) {
			srv := servertest.Start(t, withMetrics(placement.listen, metricsToken))
			base := srv.URL
			if placement.listen != "" {
				base = metricsURL(t, srv)
			}
			alice := srv.NewUser(t, "alice", server.RoleMember)
			for _, c := range []struct {
				name   string
				header map[string]string
				status int
			}{
				{"no header", nil, http.StatusUnauthorized},
				{"wrong token", map[string]string{"Authorization": "Bearer " + metricsToken[:len(metricsToken)-1] + "0"}, http.StatusUnauthorized},
				{"token's prefix", map[string]string{"Authorization": "Bearer " + metricsToken[:16]}, http.StatusUnauthorized},
				{"empty token", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized},
				{"a user's token", map[string]string{"Authorization": "Bearer " + alice.Token}, http.StatusUnauthorized},
				{"another scheme", map[string]string{"Authorization": "Basic " + metricsToken}, http.StatusUnauthorized},
				{"bare token", map[string]string{"Authorization": metricsToken}, http.StatusUnauthorized},
				{"right token", map[string]string{"Authorization": "Bearer " + metricsToken}, http.StatusOK},
				{"scheme in lower case", map[string]string{"Authorization": "bearer " + metricsToken}, http.StatusOK},
			} {
				r := do(t, http.MethodGet, base+"/metrics", "", "", c.header)
				if r.status != c.status {
					t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
					continue
				}
				if c.status == http.StatusOK {
					names := families(t, r.body)
					for _, n := range serverFamilies {
						if !names[n] {
							t.Errorf("%s: no metric family %s", c.name, n)
						}
					}
					continue
				}
				if code := errorCode(t, r); code != protocol.CodeUnauthorized {
					t.Errorf("%s: code %q, want %q", c.name, code, protocol.CodeUnauthorized)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("%s: WWW-Authenticate %q", c.name, r.header.Get("WWW-Authenticate"))
				}
				if strings.Contains(r.body, metricsToken[:8]) {
					t.Errorf("%s: the answer quotes the token: %s", c.name, r.body)
				}
			}
			// The API's routes keep their own tokens.
			if r := do(t, http.MethodGet, srv.URL+protocol.PathHealth, "", "", nil); r.status != http.StatusOK {
				t.Errorf("healthz: %d %s", r.status, r.body)
			}
			if _, err := alice.Pull(context.Background(), 0, 0); err != nil {
				t.Errorf("pull with a user's token: %v", err)
			}
		})
	}
}

// TestMetricsListenerStops: Shutdown and Close stop the metrics listener
// and end its connections.
func TestMetricsListenerStops(t *testing.T) {
	t.Run("Shutdown", func(t *testing.T) {
		srv := servertest.Start(t, withMetrics("127.0.0.1:0", ""))
		addr := srv.MetricsAddr().String()
		// A kept-alive connection, idle after one scrape.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape: %d", resp.StatusCode)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatal("the metrics listener accepts connections after Shutdown")
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("the idle connection after Shutdown: %v, want EOF", err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		srv, err := server.Open(context.Background(), server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			CompactEvery: -1, MetricsListen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		addr := srv.MetricsAddr().String()
		if r := do(t, http.MethodGet, "http://"+addr+"/metrics", "", "", nil); r.status != http.StatusOK {
			t.Fatalf("scrape before Close: %d %s", r.status, r.body)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatal("the metrics listener accepts connections after Close")
		}
	})
	t.Run("Shutdown right after Open", func(t *testing.T) {
		srv, err := server.Open(context.Background(), server.Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			CompactEvery: -1, MetricsListen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		addr := srv.MetricsAddr().String()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatal("the metrics listener accepts connections after Shutdown")
		}
	})
}

// TestMetricsListenBadAddress: an address that cannot be listened on
// fails Open with an error naming it.
func TestMetricsListenBadAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{"256.0.0.1:1", "127.0.0.1", taken.Addr().String()} {
		dir := t.TempDir()
		srv, err := server.Open(context.Background(), server.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler),
			CompactEvery: -1, MetricsListen: addr})
		if err == nil {
			srv.Close()
			t.Errorf("%s: Open succeeded", addr)
			continue
		}
		if want := "cannot listen for metrics on " + addr + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want it to start with %q", addr, err, want)
		}
	}
}
