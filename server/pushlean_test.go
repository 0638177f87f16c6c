package server_test

import (
	"context"
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

// TestLeanPushAnswers: a push that asks for lean answers gets, for each op
// whose record now holds exactly the fields it sent, the record without
// its fields and fields_sent; every other result, and every result of a
// push that did not ask, comes in full. The fields left out are the
// server's: a pull of the record shows the op's fields.
func TestLeanPushAnswers(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Lean v Full")
	lean := map[string]string{protocol.HeaderPushAnswer: protocol.PushAnswerLean}

	asSent := model.NewID()
	tidied := model.NewID()
	created := []string{
		// Stored as sent: lean.
		fmt.Sprintf(`{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,`+
			`"fields":{"matter_id":%q,"tags":["court","hearing"],"title":"As sent"}}`, model.NewID(), asSent, m.ID),
		// A tag twice is stored once: not what was sent, so in full.
		fmt.Sprintf(`{"op_id":%q,"record_id":%q,"collection":"note","kind":"create","base_version":0,`+
			`"fields":{"matter_id":%q,"tags":["court","court"],"title":"Tidied"}}`, model.NewID(), tidied, m.ID),
	}
	answer := push(t, alice, `{"ops":[`+strings.Join(created, ",")+`]}`, lean)
	wantLean(t, answer, 0, true)
	wantLean(t, answer, 1, false)

	// The record's fields are what the op sent.
	pages, err := alice.PullAll(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range pages {
		for _, r := range p.Records {
			if r.ID == asSent {
				found = true
				if got := fmt.Sprint(r.Fields); got != fmt.Sprint(model.Fields{"matter_id": m.ID, "tags": []any{"court", "hearing"}, "title": "As sent"}) {
					t.Errorf("the record answered lean holds %s", got)
				}
			}
		}
	}
	if !found {
		t.Fatal("the record answered lean was not pulled")
	}

	// An update of one field leaves the record holding more than it sent.
	update := fmt.Sprintf(`{"ops":[{"op_id":%q,"record_id":%q,"collection":"note","kind":"update","base_version":1,`+
		`"fields":{"title":"Renamed"}}]}`, model.NewID(), asSent)
	wantLean(t, push(t, alice, update, lean), 0, false)

	// The same ops again are replays: answered from the ledger, lean too.
	again := push(t, alice, `{"ops":[`+strings.Join(created, ",")+`]}`, lean)
	wantLean(t, again, 0, true)
	wantLean(t, again, 1, false)

	// A push that does not ask (an older client) gets every answer in full.
	full := push(t, alice, `{"ops":[`+strings.Join(created, ",")+`]}`, nil)
	wantLean(t, full, 0, false)
	wantLean(t, full, 1, false)
	// Nor does any other value of the header ask.
	odd := push(t, alice, `{"ops":[`+strings.Join(created, ",")+`]}`, map[string]string{protocol.HeaderPushAnswer: "Lean"})
	wantLean(t, odd, 0, false)
}

// push sends body as a push with header and returns each result's raw keys.
func push(t *testing.T, c *servertest.Client, body string, header map[string]string) []map[string]json.RawMessage {
	t.Helper()
	r := do(t, http.MethodPost, c.URL+protocol.PathPush, body, c.Token, header)
	if r.status != http.StatusOK {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	var answer struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil {
		t.Fatal(err)
	}
	return answer.Results
}

// wantLean checks that result i is lean (its record without fields, and
// fields_sent) or in full (its record's fields, no fields_sent).
func wantLean(t *testing.T, results []map[string]json.RawMessage, i int, lean bool) {
	t.Helper()
	res := results[i]
	var rec struct {
		Fields json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(res["record"], &rec); err != nil {
		t.Fatalf("result %d: %v", i, err)
	}
	sent, hasSent := res["fields_sent"]
	switch {
	case lean && (string(sent) != "true" || string(rec.Fields) != "null"):
		t.Errorf("result %d: fields_sent %s, fields %s; want it lean", i, sent, rec.Fields)
	case !lean && (hasSent || string(rec.Fields) == "null"):
		t.Errorf("result %d: fields_sent %s, fields %s; want it in full", i, sent, rec.Fields)
	}
}
