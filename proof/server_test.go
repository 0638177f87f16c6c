package proof

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

var bg = context.Background()

// clock is a server clock tests can move; it starts at the real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) shift(d time.Duration)     { c.offset.Add(int64(d)) }
func (c *clock) option() servertest.Option { return func(o *server.Options) { o.Now = c.now } }

// noRateLimit lets a suite send many requests with one token.
func noRateLimit(o *server.Options) { o.RateLimit = -1 }

// answer is one HTTP answer as bytes.
type answer struct {
	status int
	header http.Header
	body   string
}

// send sends a request with the raw path and query given, exactly as
// written; token "" sends no Authorization header.
func send(t testing.TB, baseURL, method, path, body, token string, header map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(bg, method, baseURL+path, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// internals are texts no answer may hold: SQL, driver and file names
// (the tests' servers keep their files under the temporary directory,
// which make test points at memory), traces.
var internals = []string{"sql", "panic", "goroutine", "/tmp/", tempDirText, ".go:", "runtime.", "pgx", "postgres", "syntax error", "constraint", "stack"}

// tempDirText starts every path under the temporary directory.
var tempDirText = filepath.Clean(os.TempDir()) + "/"

// leaked returns the first internal detail or forbidden text in body.
func leaked(body string, forbid []string) string {
	return leakedOf(internals, body, forbid)
}

func leakedOf(internals []string, body string, forbid []string) string {
	low := strings.ToLower(body)
	for _, s := range internals {
		if strings.Contains(low, s) {
			return s
		}
	}
	for _, s := range forbid {
		if s != "" && strings.Contains(body, s) {
			return s
		}
	}
	return ""
}

// serverState is everything a request could change that clients can see:
// the head sequence and every record, tombstones included, as an admin
// pulls them.
func serverState(t testing.TB, srv *servertest.Server, admin *servertest.Client) string {
	t.Helper()
	head, err := srv.Head(bg)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	pages, err := admin.PullAll(bg, 0)
	if err != nil {
		t.Fatalf("admin pull: %v", err)
	}
	var recs []protocol.Record
	for _, p := range pages {
		recs = append(recs, p.Records...)
	}
	slices.SortFunc(recs, func(a, b protocol.Record) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.Marshal(struct {
		Head    int64
		Records []protocol.Record
	}{head, recs})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
