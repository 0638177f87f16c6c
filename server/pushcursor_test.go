package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// pushFrom pushes ops naming cursor (or no cursor when negative) and
// returns the raw answer's keys and the decoded answer.
func pushFrom(t *testing.T, c *servertest.Client, cursor int64, ops ...model.Op) (map[string]json.RawMessage, protocol.PushResponse) {
	t.Helper()
	body, _ := json.Marshal(protocol.PushRequest{Ops: ops})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+protocol.PathPush, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if cursor >= 0 {
		req.Header.Set(protocol.HeaderCursor, strconv.FormatInt(cursor, 10))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %s", resp.Status)
	}
	var raw map[string]json.RawMessage
	var out protocol.PushResponse
	data := new(bytes.Buffer)
	_, _ = data.ReadFrom(resp.Body)
	if err := json.Unmarshal(data.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return raw, out
}

// TestPushCursor: a push naming the client's cursor is answered with the
// head as its new cursor exactly when the batch's changes are all that
// happened after it; a push without the header (an older client) gets no
// cursor key at all, so its strict decoding never meets one.
func TestPushCursor(t *testing.T) {
	srv := servertest.Start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	m := alice.CreateMatter(t, "Cursor") // seq 1

	raw, resp := pushFrom(t, alice, -1, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "old client"}))
	if _, ok := raw["cursor"]; ok || resp.Head != 2 {
		t.Fatalf("push without a cursor answered %v (head %d); want no cursor key", raw["cursor"], resp.Head)
	}
	assertPrior(t, resp, 1)
	// Caught up at 2: the batch takes 3 and 4, and the answer says 4.
	_, resp = pushFrom(t, alice, 2,
		servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "a"}),
		servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "b"}))
	if resp.Cursor != 4 || resp.Head != 4 {
		t.Fatalf("contiguous push: cursor %d, head %d; want 4, 4", resp.Cursor, resp.Head)
	}
	assertPrior(t, resp, 2)
	// Behind: seq 3 and 4 happened after cursor 2 and are not this batch's.
	_, resp = pushFrom(t, alice, 2, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "c"}))
	if resp.Cursor != 0 || resp.Head != 5 {
		t.Fatalf("push from behind: cursor %d, head %d; want none, 5", resp.Cursor, resp.Head)
	}
	assertPrior(t, resp, 4) // the batch's own start, whatever the cursor named
	// Someone else's change (bob's own matter) lies between: no cursor.
	bob.CreateMatter(t, "Elsewhere") // seq 6
	_, resp = pushFrom(t, alice, 5, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "d"}))
	if resp.Cursor != 0 || resp.Head != 7 {
		t.Fatalf("push over another user's change: cursor %d, head %d; want none, 7", resp.Cursor, resp.Head)
	}
	assertPrior(t, resp, 6)
	// A batch that changes nothing, caught up: the cursor stays the head.
	_, resp = pushFrom(t, alice, 7, servertest.Create("note", model.Fields{"title": "no matter"}))
	if resp.Results[0].Result != model.ResultRejected || resp.Cursor != 7 {
		t.Fatalf("rejected-only push: %+v, cursor %d; want rejected, 7", resp.Results[0], resp.Cursor)
	}
	assertPrior(t, resp, 7)
}

// assertPrior checks that a push answer names prior as the head before
// its batch: every change after it up to the head is the batch's.
func assertPrior(t *testing.T, resp protocol.PushResponse, prior int64) {
	t.Helper()
	if resp.Prior == nil || *resp.Prior != prior {
		t.Fatalf("answer's prior %v, want %d (head %d)", resp.Prior, prior, resp.Head)
	}
}
