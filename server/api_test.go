package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// rawResponse is an answer as bytes.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// do sends a raw request; token "" sends no Authorization header.
func do(t *testing.T, method, url, body, token string, header map[string]string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, string(b)}
}

// leaks are texts no answer may hold: SQL, driver names, paths, traces.
var leaks = []string{"SELECT", "INSERT", "sqlite", "SQLITE", "pgx", "postgres", "goroutine", "panic", "/tmp", ".go:", "runtime."}

func opJSON(fields string) string {
	return fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0%s}]}`,
		model.NewID(), model.NewID(), fields)
}

// TestAPIScenarios sends well-formed and hostile requests and checks the
// status, the error code and body, what must not appear, and that nothing
// changed on the server.
func TestAPIScenarios(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	tok := alice.Token
	big := `{"ops":[` + strings.Repeat(" ", protocol.MaxBodyBytes) + `]}`
	manyOps := make([]string, protocol.MaxOpsPerPush+1)
	for i := range manyOps {
		manyOps[i] = fmt.Sprintf(`{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0}`, model.NewID(), model.NewID())
	}
	validNote := fmt.Sprintf(`,"fields":{"matter_id":%q,"title":"x"}`, matter.ID)
	cases := []struct {
		name          string
		method, path  string
		body, token   string
		header        map[string]string
		status        int
		code          protocol.Code // the JSON error code, for errors
		want, forbid  []string
		changesServer bool
	}{
		{name: "health", method: "GET", path: "/healthz", status: 200, want: []string{`"status":"ok"`}, forbid: []string{`"head"`}},
		{name: "health with a token", method: "GET", path: "/healthz", token: tok, status: 200, want: []string{`"status":"ok"`, `"head":1`}},
		{name: "metrics", method: "GET", path: "/metrics", status: 200, want: []string{"casefile_http_requests_total", "casefile_ops_total"}},
		{name: "empty push", method: "POST", path: "/v1/push", body: `{"ops":[]}`, token: tok, status: 200, want: []string{`"results":[]`, `"head":1`}},
		{name: "unknown route", method: "GET", path: "/v1/nothing", status: 404, code: "not_found"},
		{name: "root", method: "GET", path: "/", status: 404, code: "not_found"},
		{name: "double slash", method: "GET", path: "//v1/pull", token: tok, status: 404, code: "not_found"},
		{name: "trailing slash", method: "GET", path: "/v1/pull/", token: tok, status: 404, code: "not_found"},
		{name: "escaped slash", method: "GET", path: "/v1%2Fpull", token: tok, status: 404, code: "not_found"},
		{name: "dot dot", method: "GET", path: "/v1/x/../pull", token: tok, status: 404, code: "not_found"},
		{name: "wrong method push", method: "GET", path: "/v1/push", token: tok, status: 405, code: "method_not_allowed"},
		{name: "wrong method pull", method: "DELETE", path: "/v1/pull", token: tok, status: 405, code: "method_not_allowed"},
		{name: "pull without token", method: "GET", path: "/v1/pull", status: 401, code: "unauthorized"},
		{name: "push without token", method: "POST", path: "/v1/push", body: opJSON(validNote), status: 401, code: "unauthorized"},
		{name: "events without token", method: "GET", path: "/v1/events", status: 401, code: "unauthorized"},
		{name: "forged token", method: "GET", path: "/v1/pull", token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", status: 401, code: "unauthorized"},
		{name: "basic auth", method: "GET", path: "/v1/pull", header: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, status: 401, code: "unauthorized"},
		{name: "pull", method: "GET", path: "/v1/pull?cursor=0", token: tok, status: 200, want: []string{matter.ID, `"cursor":1`}},
		{name: "negative cursor", method: "GET", path: "/v1/pull?cursor=-1", token: tok, status: 400, code: "bad_request"},
		{name: "text cursor", method: "GET", path: "/v1/pull?cursor=abc", token: tok, status: 400, code: "bad_request"},
		{name: "sql cursor", method: "GET", path: "/v1/pull?cursor=1%3B%20DROP%20TABLE%20records", token: tok, status: 400, code: "bad_request"},
		{name: "raw semicolon in query", method: "GET", path: "/v1/pull?cursor=5;DROP%20TABLE%20records", token: tok, status: 400, code: "bad_request"},
		{name: "huge cursor", method: "GET", path: "/v1/pull?cursor=99999999999999999999", token: tok, status: 400, code: "bad_request"},
		{name: "future cursor", method: "GET", path: "/v1/pull?cursor=999", token: tok, status: 410, code: "cursor_too_old"},
		{name: "zero limit", method: "GET", path: "/v1/pull?limit=0", token: tok, status: 400, code: "bad_request"},
		{name: "malformed json", method: "POST", path: "/v1/push", body: `{"ops":[{`, token: tok, status: 400, code: "bad_request"},
		{name: "not json", method: "POST", path: "/v1/push", body: `hello`, token: tok, status: 400, code: "bad_request"},
		{name: "json then junk", method: "POST", path: "/v1/push", body: `{"ops":[]} {}`, token: tok, status: 400, code: "bad_request"},
		{name: "ops not a list", method: "POST", path: "/v1/push", body: `{"ops":"x"}`, token: tok, status: 400, code: "bad_request"},
		{name: "unknown top-level key", method: "POST", path: "/v1/push", body: `{"ops":[],"admin":true}`, token: tok, status: 400, code: "bad_request"},
		{name: "client-set version", method: "POST", path: "/v1/push", body: opJSON(validNote + `,"version":7`), token: tok, status: 400, code: "bad_request"},
		{name: "client-set seq", method: "POST", path: "/v1/push", body: opJSON(validNote + `,"seq":7`), token: tok, status: 400, code: "bad_request"},
		{name: "client-set author", method: "POST", path: "/v1/push", body: opJSON(validNote + `,"created_by":"bob"`), token: tok, status: 400, code: "bad_request"},
		{name: "invalid utf-8", method: "POST", path: "/v1/push", body: opJSON(",\"fields\":{\"title\":\"\xff\xfe\"}"), token: tok, status: 400, code: "bad_request"},
		{name: "bad op id", method: "POST", path: "/v1/push", body: `{"ops":[{"op_id":"1 OR 1=1","record_id":"` + model.NewID() + `","collection":"note","kind":"create"}]}`, token: tok, status: 400, code: "bad_request"},
		{name: "upper-case id", method: "POST", path: "/v1/push", body: `{"ops":[{"op_id":"` + strings.ToUpper(model.NewID()) + `","record_id":"` + model.NewID() + `","collection":"note","kind":"create"}]}`, token: tok, status: 400, code: "bad_request"},
		{name: "bad kind", method: "POST", path: "/v1/push", body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"drop"}]}`, token: tok, status: 400, code: "bad_request"},
		{name: "negative base", method: "POST", path: "/v1/push", body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"update","base_version":-1}]}`, token: tok, status: 400, code: "bad_request"},
		{name: "too many ops", method: "POST", path: "/v1/push", body: `{"ops":[` + strings.Join(manyOps, ",") + `]}`, token: tok, status: 400, code: "too_many_ops"},
		{name: "body too large", method: "POST", path: "/v1/push", body: big, token: tok, status: 413, code: "too_large"},
		{name: "text content type", method: "POST", path: "/v1/push", body: `{"ops":[]}`, token: tok, header: map[string]string{"Content-Type": "text/plain"}, status: 400, code: "bad_request"},
		{name: "empty push", method: "POST", path: "/v1/push", body: `{"ops":[]}`, token: tok, status: 200, want: []string{`"results":[]`}},
		{name: "login wrong password", method: "POST", path: "/v1/login", body: `{"user":"alice","password":"nope","device":"d"}`, status: 401, code: "unauthorized", want: []string{"The user name or password is wrong."}},
		{name: "login unknown user", method: "POST", path: "/v1/login", body: `{"user":"mallory","password":"nope","device":"d"}`, status: 401, code: "unauthorized", want: []string{"The user name or password is wrong."}},
		{name: "login sql user", method: "POST", path: "/v1/login", body: `{"user":"' OR '1'='1","password":"x","device":"d"}`, status: 401, code: "unauthorized"},
		{name: "login extra key", method: "POST", path: "/v1/login", body: `{"user":"alice","password":"x","role":"admin"}`, status: 400, code: "bad_request"},
		{name: "login empty body", method: "POST", path: "/v1/login", body: ``, status: 400, code: "bad_request"},
		{name: "login control chars in device", method: "POST", path: "/v1/login", body: `{"user":"alice","password":"x","device":"a\u0000b"}`, status: 400, code: "bad_request"},
		{name: "bad Last-Event-ID", method: "GET", path: "/v1/events", token: tok, header: map[string]string{"Last-Event-ID": "x"}, status: 400, code: "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, err := srv.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			resp := do(t, c.method, srv.URL+c.path, c.body, c.token, c.header)
			if resp.status != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.status, c.status, truncate(resp.body))
			}
			if c.code != "" {
				var er protocol.ErrorResponse
				if err := json.Unmarshal([]byte(resp.body), &er); err != nil || er.Error.Code != c.code || er.Error.Message == "" {
					t.Fatalf("error body %s, want code %q with a message", truncate(resp.body), c.code)
				}
				if ct := resp.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(resp.body, w) {
					t.Errorf("body lacks %q: %s", w, truncate(resp.body))
				}
			}
			for _, f := range append(c.forbid, leaks...) {
				if strings.Contains(resp.body, f) {
					t.Errorf("body holds %q: %s", f, truncate(resp.body))
				}
			}
			if c.status == 405 && resp.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			after, err := srv.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if after != before && !c.changesServer {
				t.Errorf("head moved from %d to %d", before, after)
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
