package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"testing"

	"casefile/internal/pullpack"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

// pullAs is a pull's answer as it came, asking with accept ("" for none).
func pullAs(t *testing.T, c *servertest.Client, cursor int64, limit int, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
		c.URL+protocol.PathPull+"?cursor="+strconv.FormatInt(cursor, 10)+"&limit="+strconv.Itoa(limit), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pull: %d %v %s", resp.StatusCode, err, body)
	}
	return resp, body
}

// TestPullAnswersPackedWhenAsked: a pull whose Accept names the packed
// form gets it, and it decodes, page by page, to exactly the answer the
// JSON form of the same pull decodes to — records created, edited by
// another user, deleted, with escapes, lists and stored text that is not
// canonical; any other Accept gets JSON.
func TestPullAnswersPackedWhenAsked(t *testing.T) {
	srv := servertest.Start(t)
	ada := srv.NewUser(t, "ada", protocol.RoleAdmin)
	bea := srv.NewUser(t, "bea", protocol.RoleAdmin)
	m := escapedAndSpaced(t, srv, ada)
	edited := ada.CreateNote(t, m.ID, "to be edited")
	gone := ada.CreateNote(t, m.ID, "to be deleted")
	bea.PushOne(t, servertest.Update(edited, model.Fields{"title": "edited by bea", "tags": []any{}}))
	ada.PushOne(t, servertest.Delete(gone))

	packedAccept := protocol.ContentTypePullPacked + ", application/json"
	cursor, pages, records := int64(0), 0, 0
	sawEdit := false
	for {
		jr, jbody := pullAs(t, ada, cursor, 2, "")
		pr, pbody := pullAs(t, ada, cursor, 2, packedAccept)
		if ct := jr.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("a pull without Accept came as %q", ct)
		}
		if ct := pr.Header.Get("Content-Type"); ct != protocol.ContentTypePullPacked {
			t.Fatalf("a pull asking for packed pages came as %q", ct)
		}
		if pr.Header.Get("Vary") == "" || len(pbody) >= len(jbody) {
			t.Fatalf("packed answer: Vary %q, %d bytes against JSON's %d", pr.Header.Get("Vary"), len(pbody), len(jbody))
		}
		var want protocol.PullResponse
		if err := json.Unmarshal(jbody, &want); err != nil {
			t.Fatal(err)
		}
		got, err := pullpack.Read(pbody)
		if err != nil {
			t.Fatalf("read the packed page: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("page after cursor %d:\npacked %+v\njson   %+v", cursor, got, want)
		}
		for _, r := range got.Records {
			if r.ID == edited.ID && r.UpdatedBy != r.CreatedBy {
				sawEdit = true
			}
		}
		pages++
		records += len(got.Records)
		if !got.More {
			break
		}
		cursor = got.Cursor
	}
	if pages < 3 || records != 5 || !sawEdit {
		t.Fatalf("%d pages, %d records, edit by another user seen %v", pages, records, sawEdit)
	}
	for accept, want := range map[string]string{
		"application/json": "application/json",
		protocol.ContentTypePullPacked + ";q=0, application/json":               "application/json",
		"application/json;q=0.9, " + protocol.ContentTypePullPacked + "; q=0.5": "application/json",
		"*/*;q=0.1, " + protocol.ContentTypePullPacked + "; q=0.5":              protocol.ContentTypePullPacked,
		protocol.ContentTypePullPacked + ";q=nonsense":                          "application/json",
		"APPLICATION/VND.CASEFILE.PULL-PACKED.V1":                               protocol.ContentTypePullPacked,
		// JSON's own range, not */*, says how much JSON is wanted.
		protocol.ContentTypePullPacked + ";q=0.8, application/json;q=0.5, */*":   protocol.ContentTypePullPacked,
		"application/*;q=0.9, " + protocol.ContentTypePullPacked + ";q=0.8, */*": "application/json",
	} {
		if r, _ := pullAs(t, ada, 0, 2, accept); r.Header.Get("Content-Type") != want {
			t.Errorf("a pull with Accept %q came as %q, want %q", accept, r.Header.Get("Content-Type"), want)
		}
	}
}
