package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestStrictRequests: duplicate JSON keys (also differing only in case or
// escaping, as encoding/json would match them to one field), unknown or
// repeated pull parameters and a negative sent_since are 400; HEAD
// /healthz answers; the head is told only to a caller with a token.
func TestStrictRequests(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	tok := alice.Token
	note := func(extra string) string {
		return fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,"fields":{"matter_id":%q,"title":"x"}%s}]}`,
			model.NewID(), model.NewID(), matter.ID, extra)
	}
	bad := []string{`"code":"bad_request"`}
	servertest.Run(t, srv.URL, []servertest.Scenario{
		{Name: "a push twice-keyed", Method: "POST", URL: "/v1/push", Token: tok, Body: `{"ops":[],"ops":[]}`,
			Status: 400, Contains: append(bad, `the key \"ops\" twice`)},
		{Name: "a field given twice", Method: "POST", URL: "/v1/push", Token: tok,
			Body: strings.Replace(note(""), `"title":"x"`, `"title":"x","title":"y"`, 1), Status: 400, Contains: bad},
		{Name: "a key twice by case", Method: "POST", URL: "/v1/login",
			Body: `{"user":"alice","USER":"mallory","password":"x","device":"d"}`, Status: 400, Contains: bad},
		{Name: "a key twice by escape", Method: "POST", URL: "/v1/login",
			Body: `{"user":"alice","\u0075ser":"mallory","password":"x","device":"d"}`, Status: 400, Contains: bad},
		{Name: "a key twice by kelvin sign", Method: "POST", URL: "/v1/push", Token: tok,
			Body: strings.Replace(note(""), `"kind"`, `"\u212Aind":"update","kind"`, 1), Status: 400, Contains: bad},
		{Name: "same keys in two objects", Method: "POST", URL: "/v1/push", Token: tok, Body: note(""), Status: 200,
			Contains: []string{`"result":"applied"`}},
		{Name: "negative sent_since", Method: "POST", URL: "/v1/push", Token: tok, Body: note(`,"resent":true,"sent_since":-1`),
			Status: 400, Contains: append(bad, "sent_since cannot be negative"), NotContains: []string{"outcome_unknown"}},
		{Name: "repeated cursor", URL: "/v1/pull?cursor=0&cursor=5", Token: tok, Status: 400, Contains: bad},
		{Name: "unknown parameter", URL: "/v1/pull?cursr=5", Token: tok, Status: 400, Contains: append(bad, `\"cursr\"`)},
		{Name: "every known parameter", URL: "/v1/pull?cursor=0&limit=10&mark=0", Token: tok, Status: 200},
		{Name: "HEAD healthz", Method: "HEAD", URL: "/healthz", Status: 200,
			WantHeaders: map[string]string{"Content-Type": "application/json"}},
		{Name: "POST healthz", Method: "POST", URL: "/healthz", Status: 405,
			WantHeaders: map[string]string{"Allow": "GET, HEAD"}},
		{Name: "healthz tells no head to strangers", URL: "/healthz", Status: 200,
			Contains: []string{`"status":"ok"`}, NotContains: []string{"head"}},
		{Name: "healthz tells no head to a forged token", URL: "/healthz", Token: strings.Repeat("A", 43), Status: 200,
			NotContains: []string{"head"}},
		{Name: "healthz tells the head to a user", URL: "/healthz", Token: tok, Status: 200,
			Contains: []string{`"status":"ok"`, `"head":2`}},
	})
}

// rawHTTP sends bytes on a new connection and reads the answer.
func rawHTTP(t *testing.T, baseURL, request string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestGoOwnErrorsAreJSON: the answers net/http gives before any handler
// (headers too large, a malformed request) have the API's JSON error body.
func TestGoOwnErrorsAreJSON(t *testing.T) {
	srv := servertest.Start(t)
	for _, c := range []struct {
		name, request string
		status        int
		code          protocol.Code
	}{
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", 431, protocol.CodeTooLarge},
		{"malformed header", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, protocol.CodeBadRequest},
		{"no host", "GET /healthz HTTP/1.1\r\n\r\n", 400, protocol.CodeBadRequest},
		{"bad request line", "HELLO\r\n\r\n", 400, protocol.CodeBadRequest},
		{"unknown transfer encoding", "POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: rot13\r\n\r\n", 501, protocol.CodeBadRequest},
		{"unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, protocol.CodeBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := rawHTTP(t, srv.URL, c.request)
			var er protocol.ErrorResponse
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
				json.Unmarshal(body, &er) != nil || er.Error.Code != c.code || er.Error.Message == "" ||
				c.status != 400 && er.Error.Message == "The request is malformed HTTP." {
				t.Fatalf("answer %d %q %s, want %d with a JSON error %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.code)
			}
		})
	}
	// A normal answer on the same kind of connection is untouched.
	resp, body := rawHTTP(t, srv.URL, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz over a raw connection: %d %s", resp.StatusCode, body)
	}
}

// TestTokensSayWhoseTheyAre: /v1/whoami names a token's user, and a
// request naming another user in Casefile-User is refused (a token copied
// into another user's data directory pushed as its owner).
func TestTokensSayWhoseTheyAre(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	srv.NewUser(t, "bob", server.RoleViewer)
	matter := alice.CreateMatter(t, "Smith v Jones")
	push := fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,"fields":{"matter_id":%q,"title":"x"}}]}`,
		model.NewID(), model.NewID(), matter.ID)
	asBob := map[string]string{protocol.HeaderUser: "bob"}
	wrong := []string{`"code":"wrong_user"`}
	servertest.Run(t, srv.URL, []servertest.Scenario{
		{Name: "whoami", URL: protocol.PathWhoami, Token: alice.Token, Status: 200,
			Contains: []string{`"user":"alice"`, `"role":"member"`, `"device":"test"`, `"expires_at"`}},
		{Name: "whoami without a token", URL: protocol.PathWhoami, Status: 401},
		{Name: "alice's token under bob's name: push", Method: "POST", URL: protocol.PathPush, Token: alice.Token, Headers: asBob, Body: push,
			Status: 401, Contains: wrong, NotContains: []string{`"applied"`}},
		{Name: "alice's token under bob's name: pull", URL: protocol.PathPull, Token: alice.Token, Headers: asBob, Status: 401, Contains: wrong},
		{Name: "alice's token under bob's name: events", URL: protocol.PathEvents, Token: alice.Token, Headers: asBob, Status: 401, Contains: wrong},
		{Name: "alice's token under her name", URL: protocol.PathPull, Token: alice.Token,
			Headers: map[string]string{protocol.HeaderUser: "alice"}, Status: 200, Contains: []string{matter.ID}},
	})
	if h, _ := srv.Head(t.Context()); h != matter.Seq {
		t.Fatalf("head moved to %d: the refused push was applied", h)
	}
}

// TestClientNamesAreChecked: a Casefile-Client header that is not 1 to 64
// letters, digits, '-' or '_' is refused with bad_request before anything
// is applied, on pushes and streams alike; a good one is accepted.
func TestClientNamesAreChecked(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	push := fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,"fields":{"matter_id":%q,"title":"x"}}]}`,
		model.NewID(), model.NewID(), matter.ID)
	bad := []string{`"code":"bad_request"`, protocol.HeaderClient}
	var scenarios []servertest.Scenario
	for name, value := range map[string]string{
		"a space":         "my laptop",
		"a slash":         "laptop/2",
		"an empty one":    "",
		"65 characters":   strings.Repeat("a", 65),
		"a non-ASCII one": "portátil",
	} {
		h := map[string]string{protocol.HeaderClient: value}
		scenarios = append(scenarios,
			servertest.Scenario{Name: "push, " + name, Method: "POST", URL: protocol.PathPush, Token: alice.Token, Headers: h, Body: push,
				Status: 400, Contains: bad, NotContains: []string{`"applied"`}},
			servertest.Scenario{Name: "events, " + name, URL: protocol.PathEvents, Token: alice.Token, Headers: h, Status: 400, Contains: bad})
	}
	servertest.Run(t, srv.URL, scenarios)
	if h, _ := srv.Head(t.Context()); h != matter.Seq {
		t.Fatalf("head moved to %d: a refused push was applied", h)
	}
	servertest.Run(t, srv.URL, []servertest.Scenario{
		{Name: "push, a good name", Method: "POST", URL: protocol.PathPush, Token: alice.Token,
			Headers: map[string]string{protocol.HeaderClient: "Laptop_2-" + strings.Repeat("x", 55)}, Body: push,
			Status: 200, Contains: []string{`"applied"`}},
	})
}
