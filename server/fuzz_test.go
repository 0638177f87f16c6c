package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// FuzzPush sends arbitrary bodies to /v1/push and /v1/login: every answer
// is a push response or a JSON 4xx error, never a 500, and nothing leaks.
func FuzzPush(f *testing.F) {
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Options{DataDir: f.TempDir(), Logger: slog.New(slog.DiscardHandler),
		CompactEvery: -1, RateLimit: -1, Password: server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	if err := srv.AddUser(ctx, "alice", "pw-for-tests", server.RoleMember); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/login", strings.NewReader(`{"user":"alice","password":"pw-for-tests","device":"fuzz"}`)))
	var login protocol.LoginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.Token == "" {
		f.Fatalf("login: %s", rec.Body)
	}
	matter, op := model.NewID(), model.NewID()
	for _, seed := range []string{
		`{"ops":[]}`,
		`{"ops":[{"op_id":"` + op + `","record_id":"` + matter + `","collection":"matter","kind":"create","fields":{"title":"x"}}]}`,
		`{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + model.NewID() + `","collection":"note","kind":"create","fields":{"matter_id":"` + matter + `","title":"y","tags":["a",1]}}]}`,
		`{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + matter + `","collection":"matter","kind":"update","fields":{"title":null},"base_version":1}]}`,
		`{"ops":[{"op_id":"` + model.NewID() + `","record_id":"` + matter + `","collection":"matter","kind":"delete","base_version":99}]}`,
		`{"ops":[{"version":1}]}`, `{"ops":`, `[]`, `null`, "\xff", `{"user":"alice","password":"pw-for-tests"}`,
		`{"ops":[{"op_id":"` + op + `","record_id":"` + model.NewID() + `","collection":"task","kind":"create","fields":{"minutes":1e999}}]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{protocol.PathPush, protocol.PathLogin} {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+login.Token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch {
			case rec.Code == 200 && path == protocol.PathPush:
				var resp protocol.PushResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
					t.Fatalf("200 without a push response: %s", rec.Body)
				}
				for _, r := range resp.Results {
					if r.Result == model.ResultRejected && (r.Code == "" || r.Message == "") {
						t.Fatalf("a rejection without code or sentence: %+v", r)
					}
				}
			case rec.Code == 200:
			case rec.Code >= 400 && rec.Code < 500:
				var er protocol.ErrorResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error.Code == "" || er.Error.Message == "" {
					t.Fatalf("%d without a JSON error: %s", rec.Code, rec.Body)
				}
			default:
				t.Fatalf("%s answered %d: %s", path, rec.Code, rec.Body)
			}
			for _, leak := range leaks {
				if strings.Contains(rec.Body.String(), leak) && !strings.Contains(body, leak) {
					t.Fatalf("%s answer holds %q: %s", path, leak, rec.Body)
				}
			}
		}
	})
}
