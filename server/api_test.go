package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
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

// leaks are texts no answer may hold: SQL, driver names, paths (the
// tests' servers keep their files under the temporary directory, which
// make test points at memory), traces.
var leaks = []string{"SELECT", "INSERT", "sqlite", "SQLITE", "pgx", "postgres", "goroutine", "panic", "/tmp", filepath.Clean(os.TempDir()), ".go:", "runtime."}

func opJSON(fields string) string {
	return fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0%s}]}`,
		model.NewID(), model.NewID(), fields)
}

// TestAPIScenarios sends well-formed and hostile requests and checks the
// status, the error code and body, what must not appear (no answer leaks
// SQL, driver names, paths or traces), and that nothing changed on the
// server.
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
	jsonType := map[string]string{"Content-Type": "application/json"}
	scenarios := []servertest.Scenario{
		{Name: "health", URL: "/healthz", Status: 200, Contains: []string{`"status":"ok"`}, NotContains: append([]string{`"head"`}, leaks...)},
		{Name: "health with a token", URL: "/healthz", Token: tok, Status: 200, Contains: []string{`"status":"ok"`, `"head":1`}, NotContains: leaks},
		{Name: "metrics", URL: "/metrics", Status: 200, Contains: []string{"casefile_http_requests_total", "casefile_ops_total"}, NotContains: leaks},
		{Name: "empty push", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[]}`, Status: 200, Contains: []string{`"results":[]`, `"head":1`}, NotContains: leaks},
		{Name: "unknown route", URL: "/v1/nothing", Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "root", URL: "/", Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "double slash", URL: "//v1/pull", Token: tok, Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "trailing slash", URL: "/v1/pull/", Token: tok, Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "escaped slash", URL: "/v1%2Fpull", Token: tok, Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "dot dot", URL: "/v1/x/../pull", Token: tok, Status: 404, Contains: []string{`"code":"not_found"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "wrong method push", URL: "/v1/push", Token: tok, Status: 405, Contains: []string{`"code":"method_not_allowed"`}, NotContains: leaks, WantHeaders: map[string]string{"Content-Type": "application/json", "Allow": "POST"}},
		{Name: "wrong method pull", Method: "DELETE", URL: "/v1/pull", Token: tok, Status: 405, Contains: []string{`"code":"method_not_allowed"`}, NotContains: leaks, WantHeaders: map[string]string{"Content-Type": "application/json", "Allow": "GET"}},
		{Name: "pull without token", URL: "/v1/pull", Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "push without token", Method: "POST", URL: "/v1/push", Body: opJSON(validNote), Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "events without token", URL: "/v1/events", Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "forged token", URL: "/v1/pull", Token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "basic auth", URL: "/v1/pull", Headers: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "pull", URL: "/v1/pull?cursor=0", Token: tok, Status: 200, Contains: []string{matter.ID, `"cursor":1`}, NotContains: leaks},
		{Name: "negative cursor", URL: "/v1/pull?cursor=-1", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "text cursor", URL: "/v1/pull?cursor=abc", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "sql cursor", URL: "/v1/pull?cursor=1%3B%20DROP%20TABLE%20records", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "raw semicolon in query", URL: "/v1/pull?cursor=5;DROP%20TABLE%20records", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "huge cursor", URL: "/v1/pull?cursor=99999999999999999999", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "future cursor", URL: "/v1/pull?cursor=999", Token: tok, Status: 410, Contains: []string{`"code":"cursor_too_old"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "zero limit", URL: "/v1/pull?limit=0", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "malformed json", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "not json", Method: "POST", URL: "/v1/push", Token: tok, Body: `hello`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "json then junk", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[]} {}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "ops not a list", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":"x"}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "unknown top-level key", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[],"admin":true}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "client-set version", Method: "POST", URL: "/v1/push", Token: tok, Body: opJSON(validNote + `,"version":7`), Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "client-set seq", Method: "POST", URL: "/v1/push", Token: tok, Body: opJSON(validNote + `,"seq":7`), Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "client-set author", Method: "POST", URL: "/v1/push", Token: tok, Body: opJSON(validNote + `,"created_by":"bob"`), Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "invalid utf-8", Method: "POST", URL: "/v1/push", Token: tok, Body: opJSON(",\"fields\":{\"title\":\"\xff\xfe\"}"), Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "bad op id", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"1 OR 1=1","record_id":"` + model.NewID() + `","collection":"note","kind":"create"}]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "upper-case id", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"` + strings.ToUpper(model.NewID()) + `","record_id":"` + model.NewID() + `","collection":"note","kind":"create"}]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "bad kind", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"drop"}]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "negative base", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"update","base_version":-1}]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "base past the highest version", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"create","base_version":9223372036854775807}]}`, Status: 400, Contains: []string{`"code":"bad_request"`, "base_version cannot be above 9007199254740991"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "base one past the highest version", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"update","base_version":9007199254740992}]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "null push", Method: "POST", URL: "/v1/push", Token: tok, Body: `null`, Status: 400, Contains: []string{`"code":"bad_request"`, "one JSON object"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "array push", Method: "POST", URL: "/v1/push", Token: tok, Body: ` [{"ops":[]}]`, Status: 400, Contains: []string{`"code":"bad_request"`, "one JSON object"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "null login", Method: "POST", URL: "/v1/login", Body: `null`, Status: 400, Contains: []string{`"code":"bad_request"`, "one JSON object"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "content type json prefix", Method: "POST", URL: "/v1/push", Token: tok, Headers: map[string]string{"Content-Type": "application/jsonx"}, Body: `{"ops":[]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "content type json with charset", Method: "POST", URL: "/v1/push", Token: tok, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: `{"ops":[]}`, Status: 200, Contains: []string{`"results":[]`}, NotContains: leaks},
		{Name: "empty cursor", URL: "/v1/pull?cursor=", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`, "cursor"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "empty limit", URL: "/v1/pull?limit=", Token: tok, Status: 400, Contains: []string{`"code":"bad_request"`, "limit"}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "too many ops", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[` + strings.Join(manyOps, ",") + `]}`, Status: 400, Contains: []string{`"code":"too_many_ops"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "body too large", Method: "POST", URL: "/v1/push", Token: tok, Body: big, Status: 413, Contains: []string{`"code":"too_large"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "text content type", Method: "POST", URL: "/v1/push", Token: tok, Headers: map[string]string{"Content-Type": "text/plain"}, Body: `{"ops":[]}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "empty push", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[]}`, Status: 200, Contains: []string{`"results":[]`}, NotContains: leaks},
		{Name: "login wrong password", Method: "POST", URL: "/v1/login", Body: `{"user":"alice","password":"nope","device":"d"}`, Status: 401, Contains: []string{`"code":"unauthorized"`, "The user name or password is wrong."}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "login unknown user", Method: "POST", URL: "/v1/login", Body: `{"user":"mallory","password":"nope","device":"d"}`, Status: 401, Contains: []string{`"code":"unauthorized"`, "The user name or password is wrong."}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "login sql user", Method: "POST", URL: "/v1/login", Body: `{"user":"' OR '1'='1","password":"x","device":"d"}`, Status: 401, Contains: []string{`"code":"unauthorized"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "login extra key", Method: "POST", URL: "/v1/login", Body: `{"user":"alice","password":"x","role":"admin"}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "login empty body", Method: "POST", URL: "/v1/login", Body: ``, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "login control chars in device", Method: "POST", URL: "/v1/login", Body: `{"user":"alice","password":"x","device":"a\u0000b"}`, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
		{Name: "bad Last-Event-ID", URL: "/v1/events", Token: tok, Headers: map[string]string{"Last-Event-ID": "x"}, Status: 400, Contains: []string{`"code":"bad_request"`}, NotContains: leaks, WantHeaders: jsonType},
	}
	for _, sc := range scenarios {
		// Nothing a scenario sends changes the server's head.
		t.Run(sc.Name, func(t *testing.T) {
			before, err := srv.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			sc.Test(t, srv.URL)
			if after, err := srv.Head(context.Background()); err != nil || after != before {
				t.Errorf("head moved from %d to %d (%v)", before, after, err)
			}
		})
	}
}
