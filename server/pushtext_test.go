package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

// rawPush pushes ops, with the schema header when schema is not "", and
// returns the answer's body as it came.
func rawPush(t *testing.T, c *servertest.Client, schema string, ops ...model.Op) []byte {
	t.Helper()
	body, err := json.Marshal(protocol.PushRequest{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+protocol.PathPush, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if schema != "" {
		req.Header.Set(protocol.HeaderSchema, schema)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %d %v %s", resp.StatusCode, err, data)
	}
	return data
}

// pushAnswer decodes a push's answer and checks that it is byte for byte
// what encoding what it decodes to writes, as writeJSON would have.
func pushAnswer(t *testing.T, body []byte) (protocol.PushResponse, json.RawMessage) {
	t.Helper()
	var resp protocol.PushResponse
	var raw struct {
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, append(again, '\n')) {
		t.Fatalf("answer:\n%s\nencoded again:\n%s", body, again)
	}
	return resp, raw.Results
}

// TestPushAnswerIsTheEncodedResponse: a push's answer, each result encoded
// once for the ledger and the answer, is what encoding the answer writes,
// for every kind of result: applied with fields that need escapes,
// numbers and tags; a conflict with who and when; rejections with and
// without problems; from a client whose schema differs, a rejection
// rewritten to say so; and sent again, the same results from the ledger,
// rewritten again for that client and not for another.
func TestPushAnswerIsTheEncodedResponse(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.NewUser(t, "ada", protocol.RoleAdmin)
	m := c.CreateMatter(t, "Smith <&> Jones")
	n := c.CreateNote(t, m.ID, "first")
	c.PushOne(t, servertest.Update(n, model.Fields{"title": "changed on the server"}))

	ops := []model.Op{
		servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "<&> \u2028 é \"quoted\" \x7f",
			"body": "line\none\ttab", "tags": []string{"site", "<witness>"}}),
		servertest.Create("time_entry", model.Fields{model.MatterField: m.ID, "description": "call",
			"minutes": 1.5, "billable": true, "worked_on": nil}),
		servertest.Update(n, model.Fields{"title": "changed here"}), // a conflict
		servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "x", "no_such_field": "y"}),
		servertest.Create("no_such_collection", model.Fields{"title": "x"}),
	}
	first, results := pushAnswer(t, rawPush(t, c, "another schema", ops...))
	kinds := []model.OpResult{model.ResultApplied, model.ResultApplied, model.ResultConflict, model.ResultRejected, model.ResultRejected}
	for i, res := range first.Results {
		if res.Result != kinds[i] {
			t.Fatalf("result %d is %s (%s), want %s", i, res.Result, res.Message, kinds[i])
		}
	}
	if conflict := first.Results[2]; conflict.ChangedBy != "ada" || conflict.ChangedAt.IsZero() || len(conflict.ConflictFields) != 1 {
		t.Fatalf("the conflict says %+v", conflict)
	}
	if drift := first.Results[3]; drift.Code != protocol.CodeSchemaMismatch || len(drift.Problems) == 0 {
		t.Fatalf("the rejection for a field is %s with problems %v; want %s", drift.Code, drift.Problems, protocol.CodeSchemaMismatch)
	}

	again, resent := pushAnswer(t, rawPush(t, c, "another schema", ops...))
	if !bytes.Equal(resent, results) {
		t.Fatalf("sent again, the results are\n%s\nwere\n%s", resent, results)
	}
	if again.Head != first.Head {
		t.Fatalf("sent again, the head moved from %d to %d", first.Head, again.Head)
	}
	same, _ := pushAnswer(t, rawPush(t, c, "", ops...))
	if got := same.Results[3].Code; got != protocol.CodeValidation {
		t.Fatalf("sent again by a client of the server's schema, the rejection is %s, want %s", got, protocol.CodeValidation)
	}
}

// TestReplayedConflictAfterRevokeIsNotFound: a conflict sent again after
// its sender lost the matter is answered as the op would be now, "no such
// record", never as a conflict without its record, which a client takes
// for the record's delete and offers to restore.
func TestReplayedConflictAfterRevokeIsNotFound(t *testing.T) {
	w := newWorld(t, startSQLite)
	note := w.alice.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: w.m.ID, "title": "Alice's note"})).Record
	w.alice.PushOne(t, servertest.Update(note, model.Fields{"title": "Alice's title"}))
	bobOp := servertest.Update(note, model.Fields{"title": "Bob's title"})
	first := w.bob.PushOne(t, bobOp)
	expect(t, first, model.ResultConflict, "")
	if first.Record == nil {
		t.Fatal("the conflict came without its record")
	}
	if err := w.srv.Revoke(context.Background(), "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	again := w.bob.PushOne(t, bobOp)
	expect(t, again, model.ResultRejected, protocol.CodeNotFound)
	if again.Record != nil {
		t.Fatalf("the conflict sent again after the revoke shows the record: %+v", again.Record)
	}
	fresh := w.bob.PushOne(t, servertest.Update(note, model.Fields{"title": "Bob's title"}))
	if fresh.Message != again.Message {
		t.Fatalf("sent again: %q; a new op: %q; want the same answer", again.Message, fresh.Message)
	}
	// Alice still sees it: her own conflicts come back as they were.
	aliceOp := servertest.Update(note, model.Fields{"title": "Alice's other title"})
	if res := w.alice.PushOne(t, aliceOp); res.Result != model.ResultConflict {
		t.Fatalf("alice's stale update: %+v", res)
	}
	if res := w.alice.PushOne(t, aliceOp); res.Result != model.ResultConflict || res.Record == nil {
		t.Fatalf("alice's conflict sent again: %+v", res)
	}
}

// TestReplayAfterRevokeShowsNoRecord: an op sent again after its sender
// lost the matter is answered from the ledger without the record it
// stored, not with the stored answer as it is.
func TestReplayAfterRevokeShowsNoRecord(t *testing.T) {
	w := newWorld(t, startSQLite)
	op := servertest.Create("note", model.Fields{model.MatterField: w.m.ID, "title": "Bob's note"})
	first, _ := pushAnswer(t, rawPush(t, w.bob, "", op))
	if res := first.Results[0]; res.Result != model.ResultApplied || res.Record == nil {
		t.Fatalf("bob's note: %+v", res)
	}
	if err := w.srv.Revoke(context.Background(), "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	again, _ := pushAnswer(t, rawPush(t, w.bob, "", op))
	if res := again.Results[0]; res.Result != model.ResultApplied || res.Record != nil {
		t.Fatalf("bob's note sent again after the revoke: %+v", res)
	}
}
