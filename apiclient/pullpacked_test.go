package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"casefile/internal/pullpack"
	"casefile/model"
	"casefile/protocol"
)

// TestPullReadsEitherForm: a pull asks for the packed form first and reads
// the answer by its Content-Type — a packed page, and a JSON one from a
// server older than packed pages, decode to the same answer; a packed page
// that is not well formed, or a packed answer to anything but a pull, is a
// protocol error.
func TestPullReadsEitherForm(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 30, 0, 120000000, time.UTC)
	page := pullpack.Page{Records: []pullpack.Record{{ID: "0193a4b2-7c1d-7e4f-8a9b-0c1d2e3f4a5b", Collection: "note",
		MatterID: "m1", Version: 2, Seq: 41, Fields: json.RawMessage(`{"tags":["site"],"title":"Site visit"}`),
		CreatedBy: "ada", CreatedAt: at, UpdatedBy: "bea", UpdatedAt: at.Add(time.Minute)}},
		Cursor: 41, Head: 50, Total: 1, More: true}
	packed, err := pullpack.Append(nil, &page)
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.PullResponse{Records: []protocol.Record{{ID: page.Records[0].ID, Collection: "note", MatterID: "m1",
		Version: 2, Seq: 41, Fields: model.Fields{"tags": []any{"site"}, "title": "Site visit"}, CreatedBy: "ada",
		CreatedAt: at, UpdatedBy: "bea", UpdatedAt: at.Add(time.Minute)}}, Cursor: 41, Head: 50, Total: 1, More: true}
	plain, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}

	var ct string
	var body []byte
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", ct)
		w.Write(body)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, form := range []struct {
		ct   string
		body []byte
	}{{protocol.ContentTypePullPacked, packed}, {"Application/Vnd.Casefile.Pull-Packed.V1; charset=binary", packed},
		{"application/json", plain}} {
		ct, body = form.ct, form.body
		got, err := c.Pull(ctx, 40, 0, NoMark)
		if err != nil {
			t.Fatalf("%s: %v", form.ct, err)
		}
		if !strings.HasPrefix(accept, protocol.ContentTypePullPacked+",") {
			t.Fatalf("the pull's Accept: %q", accept)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s page decoded to %+v, want %+v", form.ct, got, want)
		}
	}

	protocolBroken := func(err error, why string) bool {
		var e *Error
		return errors.As(err, &e) && e.Class == ClassFailing && strings.Contains(e.Message, "does not follow the protocol") &&
			e.Err != nil && strings.Contains(e.Err.Error(), why)
	}
	ct, body = protocol.ContentTypePullPacked, packed[:len(packed)-1]
	if _, err := c.Pull(ctx, 40, 0, NoMark); !protocolBroken(err, "packed page") {
		t.Fatalf("a packed page cut short: %v", err)
	}
	if _, err := c.Whoami(ctx); !protocolBroken(err, "not a pull") {
		t.Fatalf("a packed answer to whoami: %v", err)
	}
}
