package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// TestPushBodyAnswers: a push's body is refused with the same status,
// code and sentence whichever decoder reads it (the fast one declines
// these, and encoding/json's path judges them); a body encoding/json
// takes only by matching a key's case is still taken.
func TestPushBodyAnswers(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	// note is a push of one new note whose op ends with extra and whose
	// fields end with more.
	note := func(extra, more string) string {
		return fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,`+
			`"fields":{"matter_id":%q,"title":"x"%s}%s}]}`, model.NewID(), model.NewID(), matter.ID, more, extra)
	}
	refused := func(msg string) func(testing.TB, *http.Response, []byte) {
		return func(t testing.TB, _ *http.Response, body []byte) {
			var e protocol.ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("answer %s: %v", body, err)
			}
			if e.Error.Code != protocol.CodeBadRequest || e.Error.Message != msg {
				t.Errorf("answer %q: %q, want %q: %q", e.Error.Code, e.Error.Message, protocol.CodeBadRequest, msg)
			}
		}
	}
	valid := note("", "")
	var scenarios []servertest.Scenario
	for _, c := range []struct{ name, body, msg string }{
		{"an unknown key in an op", note(`,"colour":"red"`, ""),
			`The request body has an unknown key "colour"; server-owned fields (version, seq, created_by…) cannot be sent.`},
		{"an unknown key in the push", `{"ops":[],"version":3}`,
			`The request body has an unknown key "version"; server-owned fields (version, seq, created_by…) cannot be sent.`},
		{"a key twice by case", note(`,"KIND":"update"`, ""), `The request body has the key "KIND" twice in one object.`},
		{"a key twice", `{"ops":[],"ops":[]}`, `The request body has the key "ops" twice in one object.`},
		{"a field twice", note("", `,"title":"y"`), `The request body has the key "title" twice in one object.`},
		{"a field twice by case", note("", `,"Title":"y"`), `The request body has the key "Title" twice in one object.`},
		{"a field twice by escape", note("", `,"\u0074itle":"y"`), `The request body has the key "title" twice in one object.`},
		{"a key twice in a field's value", note("", `,"tags":[{"a":1,"a":2}]`), `The request body has the key "a" twice in one object.`},
		{"trailing data", valid + ` {}`, "The request body must hold one JSON object and nothing after it."},
		{"trailing garbage", valid + `x`, "The request body must hold one JSON object and nothing after it."},
		{"a string for a number", note(`,"base_version":"0"`, ""),
			`The request body has the wrong type for "ops.base_version" (want a whole number).`},
		{"a fraction for a whole number", note(`,"sent_since":1.5`, ""),
			`The request body has the wrong type for "ops.sent_since" (want a whole number).`},
		{"an object for the ops", `{"ops":{}}`, `The request body has the wrong type for "ops" (want a list).`},
		{"a list for the fields", `{"ops":[{"op_id":"o","fields":["x"]}]}`,
			`The request body has the wrong type for "ops.fields" (want an object).`},
		{"a number out of range", note("", `,"body":1e999`), `The request body has the wrong type for "ops.fields" (want a number).`},
		{"a list for the push", `[]`, "The request body must be one JSON object."},
		{"null for the push", `null`, "The request body must be one JSON object."},
		{"cut short", valid[:len(valid)/2], "The request body is empty or cut short."},
		{"empty", ` `, "The request body is empty or cut short."},
		{"malformed", `{"ops":[}`, "The request body is not valid JSON (at byte 9)."},
		{"not UTF-8", note("", `,"body":"`+"\xff"+`"`), "The request body is not valid UTF-8."},
	} {
		scenarios = append(scenarios, servertest.Scenario{Name: c.name, Method: http.MethodPost, URL: protocol.PathPush,
			Token: alice.Token, Body: c.body, Status: http.StatusBadRequest, Check: refused(c.msg)})
	}
	scenarios = append(scenarios,
		servertest.Scenario{Name: "a key in another case", Method: http.MethodPost, URL: protocol.PathPush, Token: alice.Token,
			Body: strings.Replace(valid, `"kind"`, `"Kind"`, 1), Status: http.StatusOK, Contains: []string{`"result":"applied"`}},
		servertest.Scenario{Name: "valid", Method: http.MethodPost, URL: protocol.PathPush, Token: alice.Token,
			Body: valid, Status: http.StatusOK, Contains: []string{`"result":"applied"`}})
	servertest.Run(t, srv.URL, scenarios)
}
