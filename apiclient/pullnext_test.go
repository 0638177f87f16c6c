package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"casefile/protocol"
)

// TestPullNamesItsNextPageBeforeItsBody: the next page's request is handed
// over from the answer's headers while its body is still to come, and a
// body that disagrees with them, or a header that cannot be read, fails
// the pull; an answer without the header is read as before.
func TestPullNamesItsNextPageBeforeItsBody(t *testing.T) {
	header, body := "", ""
	named := make(chan NextPage, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if header != "" {
			w.Header().Set(protocol.HeaderPullNext, header)
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if header != "" && header == "40 7" {
			// The body waits for the client to have named the next page.
			select {
			case <-r.Context().Done():
				return
			case n := <-named:
				named <- n
			case <-time.After(10 * time.Second):
				return
			}
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	pull := func() (protocol.PullResponse, []NextPage, error) {
		var seen []NextPage
		resp, err := c.PullThen(context.Background(), 5, 0, NoMark, func(n NextPage) {
			seen = append(seen, n)
			named <- n
		})
		select {
		case <-named:
		default:
		}
		return resp, seen, err
	}

	header, body = "40 7", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`
	resp, seen, err := pull()
	if err != nil || resp.Cursor != 40 || len(seen) != 1 || seen[0] != (NextPage{Cursor: 40, Mark: 7}) {
		t.Fatalf("pull = %+v, named %v, %v", resp, seen, err)
	}

	for _, c := range []struct{ header, body string }{
		{"41 7", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`},
		{"40 8", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`},
		{"40 7", `{"records":[],"cursor":40,"more":false,"head":90,"compacted_through":7}`},
		{"40", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`},
		{"40 7 1", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`},
		{"+40 7", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`},
		{"5 7", `{"records":[],"cursor":5,"more":true,"head":90,"compacted_through":7}`},
		{"40 -1", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":-1}`},
	} {
		header, body = c.header, c.body
		if _, _, err := pull(); ClassOf(err) != ClassFailing {
			t.Errorf("header %q, body %s: err = %v, want a failing exchange", c.header, c.body, err)
		}
	}

	header, body = "", `{"records":[],"cursor":40,"more":true,"head":90,"compacted_through":7}`
	if resp, seen, err := pull(); err != nil || resp.Cursor != 40 || len(seen) != 0 {
		t.Fatalf("without the header: %+v, named %v, %v", resp, seen, err)
	}
}
