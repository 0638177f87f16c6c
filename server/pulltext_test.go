package server_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
	"casefile/server/store/sqlitestore"
)

// rawPull is a pull answer's body as it came (JSON: no Accept).
func rawPull(t *testing.T, c *servertest.Client, cursor int64) []byte {
	t.Helper()
	_, body := pullAs(t, c, cursor, 100, "")
	return body
}

// escapedAndSpaced gives c a matter holding a note with escapes and a
// list, and a note whose stored fields text is not canonical (spaces,
// keys out of order), in that order; it returns the matter.
func escapedAndSpaced(t *testing.T, srv *servertest.Server, c *servertest.Client) *protocol.Record {
	t.Helper()
	m := c.CreateMatter(t, "Smith v Jones")
	c.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": "<&> \u2028 é \"quoted\"",
		"body": "line\none\ttab", "tags": []any{"site", "witness"}}))
	odd := c.CreateNote(t, m.ID, "stored with spaces")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spaced := `{"title": "stored with spaces",  "matter_id": "` + m.ID + `"}`
	if _, err := db.Exec("UPDATE records SET fields = ? WHERE id = ?", spaced, odd.ID); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPullAnswerIsTheEncodedResponse: a pull's answer, whose records carry
// their fields as the store holds them, is byte for byte what encoding the
// answer it decodes to writes — fields with escapes, lists and a record
// whose stored text is not canonical (spaces, keys out of order), which is
// decoded and encoded as before.
func TestPullAnswerIsTheEncodedResponse(t *testing.T) {
	srv := servertest.Start(t)
	c := srv.NewUser(t, "ada", protocol.RoleAdmin)
	m := escapedAndSpaced(t, srv, c)

	body := rawPull(t, c, 0)
	var resp protocol.PullResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSuffix(body, []byte("\n")), again) {
		t.Fatalf("answer:\n%s\nencoded again:\n%s", body, again)
	}
	if len(resp.Records) != 3 {
		t.Fatalf("%d records, want 3", len(resp.Records))
	}
	if got := resp.Records[1].Fields; got["title"] != "<&> \u2028 é \"quoted\"" || got["body"] != "line\none\ttab" {
		t.Fatalf("fields %v", got)
	}
	if got := resp.Records[2].Fields; got["title"] != "stored with spaces" || got[model.MatterField] != m.ID || len(got) != 2 {
		t.Fatalf("fields stored with spaces came as %v", got)
	}
	if !bytes.Contains(body, []byte(`"fields":{"matter_id":"`+m.ID+`","title":"stored with spaces"}`)) {
		t.Fatalf("the spaced fields did not go out encoded:\n%s", body)
	}
}
