package servertest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Scenario is one API request and what its answer must and must not
// hold, written as data so a table of them reads like the behaviour:
//
//	servertest.Run(t, srv.URL, []servertest.Scenario{{
//		Name: "pull without a token", Method: "GET", URL: "/v1/pull",
//		Status: 401, Contains: []string{`"code":"unauthorized"`},
//	}})
type Scenario struct {
	Name   string
	Method string // GET when ""
	URL    string // path and query, joined to the server's URL
	// Body is sent as is (raw, so malformed JSON can be sent too), with
	// Content-Type application/json unless Headers names another.
	Body    string
	Token   string            // bearer token; "" sends none
	Headers map[string]string // request headers
	// Before runs just before the request (e.g. to revoke a token).
	Before func(t testing.TB)

	Status      int               // expected status
	Contains    []string          // each must appear in the answer body
	NotContains []string          // none may appear in the answer body
	WantHeaders map[string]string // answer headers and their exact values
	// Check, when set, looks at the answer further.
	Check func(t testing.TB, resp *http.Response, body []byte)
}

// Run runs every scenario as a subtest against the server at baseURL.
func Run(t *testing.T, baseURL string, scenarios []Scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Helper()
			sc.Test(t, baseURL)
		})
	}
}

// Test sends the scenario's request and checks the answer; it returns the
// answer's body.
func (sc Scenario) Test(t testing.TB, baseURL string) []byte {
	t.Helper()
	if sc.Before != nil {
		sc.Before(t)
	}
	method := sc.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if sc.Body != "" {
		body = strings.NewReader(sc.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, baseURL+sc.URL, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, sc.URL, err)
	}
	if sc.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range sc.Headers {
		req.Header.Set(k, v)
	}
	if sc.Token != "" {
		req.Header.Set("Authorization", "Bearer "+sc.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, sc.URL, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, sc.URL, err)
	}
	if sc.Status != 0 && resp.StatusCode != sc.Status {
		t.Errorf("%s %s: status %d, want %d; body %s", method, sc.URL, resp.StatusCode, sc.Status, clip(got))
	}
	for _, s := range sc.Contains {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("%s %s: answer lacks %q; body %s", method, sc.URL, s, clip(got))
		}
	}
	for _, s := range sc.NotContains {
		if bytes.Contains(got, []byte(s)) {
			t.Errorf("%s %s: answer holds %q; body %s", method, sc.URL, s, clip(got))
		}
	}
	for k, v := range sc.WantHeaders {
		if h := resp.Header.Get(k); h != v {
			t.Errorf("%s %s: header %s = %q, want %q", method, sc.URL, k, h, v)
		}
	}
	if sc.Check != nil {
		sc.Check(t, resp, got)
	}
	return got
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	const most = 500
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}
