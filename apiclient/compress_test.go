package apiclient

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// TestRequestCompression: push bodies go gzip-compressed only once the
// server has said it reads them (an older server never says so and keeps
// getting plain JSON), and never when the transport has compression off.
func TestRequestCompression(t *testing.T) {
	var ops []model.Op
	for i := range 30 {
		ops = append(ops, model.Op{OpID: fmt.Sprintf("op-%d", i), RecordID: fmt.Sprintf("r-%d", i), Collection: "note",
			Kind: model.OpCreate, Fields: model.Fields{"title": "a note long enough to be worth compressing"}})
	}
	answer := func() []byte {
		res := protocol.PushResponse{Head: 1}
		for _, o := range ops {
			res.Results = append(res.Results, protocol.OpResult{OpID: o.OpID, Result: model.ResultApplied})
		}
		b, _ := json.Marshal(res)
		return b
	}()
	for _, tc := range []struct {
		name       string
		advertises bool
		off        bool
		want       []string // Content-Encoding of the first and second push
	}{
		{"new server", true, false, []string{"", "gzip"}},
		{"old server", false, false, []string{"", ""}},
		{"compression off", true, true, []string{"", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.Header.Get("Content-Encoding"))
				var in io.Reader = r.Body
				if r.Header.Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(r.Body)
					if err != nil {
						t.Errorf("not gzip: %v", err)
						return
					}
					in = zr
				}
				var req protocol.PushRequest
				if err := json.NewDecoder(in).Decode(&req); err != nil || len(req.Ops) != len(ops) {
					t.Errorf("decode push: %v", err)
				}
				if tc.advertises {
					w.Header().Set("Accept-Encoding", "gzip")
				}
				w.Write(answer)
			}))
			defer srv.Close()
			hc := DefaultHTTPClient()
			hc.Transport.(*http.Transport).DisableCompression = tc.off
			c, err := NewClient(srv.URL, "tok", hc)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := c.Push(context.Background(), ops); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("Content-Encoding of the pushes = %q, want %q", got, tc.want)
			}
		})
	}
}
