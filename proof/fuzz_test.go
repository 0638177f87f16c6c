package proof

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"casefile/assets"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// fuzzWorld is a server driven through its handler in-process: alice and
// a viewer share alice's matter; bob's matter and note are secret to them.
type fuzzWorld struct {
	srv                      *server.Server
	h                        http.Handler
	tokens                   []string // alice, the viewer
	aliceMatter, aliceNote   string
	bobMatter, bobNote, text string
}

func newFuzzWorld(f *testing.F) *fuzzWorld {
	srv, err := server.Open(bg, server.Options{DataDir: f.TempDir(), Logger: slog.New(slog.DiscardHandler),
		CompactEvery: -1, RateLimit: -1, Password: server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	w := &fuzzWorld{srv: srv, h: srv.Handler(), text: "bob-secret-7f3a9c"}
	login := func(user string, role protocol.Role) string {
		if err := srv.AddUser(bg, user, "pw-for-tests", role); err != nil {
			f.Fatal(err)
		}
		rec := w.call("POST", protocol.PathLogin, "", `{"user":"`+user+`","password":"pw-for-tests","device":"fuzz"}`, "")
		var resp protocol.LoginResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Token == "" {
			f.Fatalf("login %s: %s", user, rec.Body)
		}
		return resp.Token
	}
	alice, bob, vera := login("alice", server.RoleMember), login("bob", server.RoleMember), login("vera", server.RoleViewer)
	w.tokens = []string{alice, vera}
	create := func(token, coll string, fields model.Fields) string {
		op := model.Op{OpID: model.NewID(), RecordID: model.NewID(), Collection: coll, Kind: model.OpCreate, Fields: fields}
		b, _ := json.Marshal(protocol.PushRequest{Ops: []model.Op{op}})
		rec := w.call("POST", protocol.PathPush, "", string(b), token)
		if !strings.Contains(rec.Body.String(), `"applied"`) {
			f.Fatalf("create %s: %s", coll, rec.Body)
		}
		return op.RecordID
	}
	w.aliceMatter = create(alice, model.MatterCollection, model.Fields{"title": "Smith v Jones"})
	w.aliceNote = create(alice, "note", model.Fields{model.MatterField: w.aliceMatter, "title": "First meeting"})
	w.bobMatter = create(bob, model.MatterCollection, model.Fields{"title": w.text})
	w.bobNote = create(bob, "note", model.Fields{model.MatterField: w.bobMatter, "title": w.text})
	if err := srv.Grant(bg, "vera", w.aliceMatter); err != nil {
		f.Fatal(err)
	}
	return w
}

func (w *fuzzWorld) call(method, path, rawQuery, body, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.URL.RawQuery = rawQuery
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return rec
}

func (w *fuzzWorld) head(t *testing.T) int64 {
	h, err := w.srv.Head(bg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkAnswer: JSON, never a 5xx, an error with a code and a sentence,
// nothing internal and nothing of bob's.
func (w *fuzzWorld) checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code >= 500 {
		t.Fatalf("answered %d: %s", rec.Code, body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("answered %d with a body that is not JSON: %q", rec.Code, body)
	}
	if rec.Code != http.StatusOK {
		var er protocol.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error.Code == "" || er.Error.Message == "" {
			t.Fatalf("%d without a JSON error: %s", rec.Code, body)
		}
	}
	if l := leaked(body, []string{w.text, w.bobNote, w.bobMatter}); l != "" {
		t.Fatalf("the answer holds %q: %s", l, body)
	}
}

// FuzzPushOp sends well-formed pushes of one op built from fuzzed parts
// (kind, collection, target record, a field and a JSON value, base
// version), so the fuzzer works on the rules rather than the JSON syntax:
// never a 5xx, always JSON, a refusal changes nothing and carries a code,
// an applied op shows only what the user may see.
func FuzzPushOp(f *testing.F) {
	w := newFuzzWorld(f)
	f.Add("update", "note", uint8(0), "title", `"new title"`, int64(1), uint8(0))
	f.Add("update", "note", uint8(1), "title", `"mine now"`, int64(1), uint8(0))
	f.Add("create", "note", uint8(2), "matter_id", `"`+w.bobMatter+`"`, int64(0), uint8(0))
	f.Add("delete", "note", uint8(1), "", ``, int64(1), uint8(0))
	f.Add("create", "matter", uint8(2), "title", `"Doe v Roe"`, int64(0), uint8(0))
	f.Add("update", "note", uint8(0), "tags", `["a",1,null]`, int64(1), uint8(0))
	f.Add("update", "task", uint8(0), "minutes", `1e999`, int64(-1), uint8(0))
	f.Add("update", "note", uint8(0), "title", `"x"`, int64(1), uint8(1))
	f.Add("update", "note", uint8(0), "matter_id", `"`+w.bobMatter+`"`, int64(1), uint8(0))
	f.Add("create", "memo'; DROP TABLE records; --", uint8(2), "version", `7`, int64(0), uint8(0))
	f.Add("create", "note", uint8(2), "title", `"wrapped"`, int64(math.MaxInt64), uint8(0))
	f.Add("create", "note", uint8(2), "title", `"at the top"`, int64(model.MaxVersion), uint8(0))
	f.Fuzz(func(t *testing.T, kind, coll string, target uint8, field, value string, base int64, who uint8) {
		ids := []string{w.aliceNote, w.bobNote, model.NewID(), w.aliceMatter, w.bobMatter}
		op := map[string]any{"op_id": model.NewID(), "record_id": ids[int(target)%len(ids)], "collection": coll,
			"kind": kind, "base_version": base}
		if field != "" {
			var v any = value
			if json.Valid([]byte(value)) {
				v = json.RawMessage(value)
			}
			op["fields"] = map[string]any{field: v}
			if kind == "create" && field != model.MatterField {
				op["fields"].(map[string]any)[model.MatterField] = w.aliceMatter
			}
		}
		body, err := json.Marshal(map[string]any{"ops": []any{op}})
		if err != nil {
			t.Skip("not encodable")
		}
		before := w.head(t)
		rec := w.call("POST", protocol.PathPush, "", string(body), w.tokens[int(who)%len(w.tokens)])
		w.checkAnswer(t, rec)
		after := w.head(t)
		if rec.Code != http.StatusOK {
			if after != before {
				t.Fatalf("a refused push (%d) moved the head from %d to %d", rec.Code, before, after)
			}
			return
		}
		var resp protocol.PushResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Results) != 1 {
			t.Fatalf("push answer: %s", rec.Body)
		}
		res := resp.Results[0]
		switch res.Result {
		case model.ResultRejected, model.ResultConflict:
			if res.Result == model.ResultRejected && (res.Code == "" || res.Message == "" || res.Record != nil) {
				t.Fatalf("a refusal without code, sentence, or with a record: %+v", res)
			}
			if after != before {
				t.Fatalf("a %s op moved the head from %d to %d", res.Result, before, after)
			}
		case model.ResultApplied, model.ResultMerged:
			if res.Record == nil {
				t.Fatalf("%s without the record", res.Result)
			}
			if res.Record.Version < 1 || res.Record.Version > model.MaxVersion+1 {
				t.Fatalf("%s at version %d, outside 1…%d", res.Result, res.Record.Version, int64(model.MaxVersion)+1)
			}
		default:
			t.Fatalf("unknown result %q", res.Result)
		}
		if res.Record != nil && (res.Record.MatterID == w.bobMatter || res.Record.ID == w.bobNote) {
			t.Fatalf("the answer shows bob's record: %+v", res.Record)
		}
	})
}

// FuzzPullQuery sends arbitrary query strings to /v1/pull: a parameter the
// server cannot read is a 400, never a guess; a page never runs past the
// head and never shows bob's records.
func FuzzPullQuery(f *testing.F) {
	w := newFuzzWorld(f)
	for _, q := range []string{"", "cursor=0", "cursor=3&limit=2", "cursor=-1", "cursor=1;DROP TABLE records", "limit=0",
		"cursor=99999999999999999999", "cursor=1&cursor=2", "limit=5000000", "cursor=%zz", "cursor=0x10", "cursor=+1", "cursor=1e3"} {
		f.Add(q, uint8(0))
	}
	f.Fuzz(func(t *testing.T, query string, who uint8) {
		head := w.head(t)
		rec := w.call("GET", protocol.PathPull, query, "", w.tokens[int(who)%len(w.tokens)])
		w.checkAnswer(t, rec)
		if rec.Code != http.StatusOK {
			return
		}
		var page protocol.PullResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatalf("pull answer: %v", err)
		}
		if page.Head != head || page.Cursor > page.Head || (page.More && page.Cursor >= page.Head) || len(page.Records) > protocol.MaxPullPage {
			t.Fatalf("page cursor %d head %d (server head %d) more %v with %d records", page.Cursor, page.Head, head, page.More, len(page.Records))
		}
		for i, r := range page.Records {
			if r.MatterID != w.aliceMatter || r.Seq > page.Cursor || (i > 0 && r.Seq <= page.Records[i-1].Seq) {
				t.Fatalf("record %d: %s of matter %s at seq %d (cursor %d)", i, r.ID, r.MatterID, r.Seq, page.Cursor)
			}
		}
	})
}

// FuzzParseSchema feeds arbitrary TOML to the schema parser: it returns a
// schema or an error, never panics, and a schema it accepts is coherent
// (a matter collection, every other collection tied to it by a required
// matter_id) and validates any record without panicking.
func FuzzParseSchema(f *testing.F) {
	f.Add(string(assets.Schema))
	for _, s := range []string{
		"", "[[collection]]\nname = \"matter\"\n",
		"[[collection]]\nname = \"matter\"\n[[collection.field]]\nname = \"title\"\ntype = \"text\"\nmerge = \"server-wins\"\nmin = 1\n",
		"[[collection]]\nname = \"note\"\n[[collection.field]]\nname = \"matter_id\"\ntype = \"ref\"\nref = \"matter\"\nrequired = true\n",
		"[[collection]]\nname = \"matter\"\ncolumns = [\"nope\"]\n",
		"[[collection]]\nname = \"Matter\"\n", "[[collection]]\nname = \"matter\"\n[[collection.field]]\nname = \"id\"\ntype = \"text\"\n",
		"[[collection]]\nname = \"matter\"\n[[collection.field]]\nname = \"s\"\ntype = \"enum\"\nvalues = []\n",
		"collection = 7", "[[collection]]\nname = \"matter\"\nextra = true\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		s, err := model.ParseSchema([]byte(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		m, ok := s.Collection(model.MatterCollection)
		if !ok || m == nil {
			t.Fatal("a schema without a matter collection was accepted")
		}
		samples := []any{nil, "", "x", "2026-01-02", "2026-01-02T03:04:05Z", 1.5, true, []any{"a", 2}, map[string]any{}}
		for _, name := range s.Names() {
			c, _ := s.Collection(name)
			if name != model.MatterCollection {
				mf, ok := c.Field(model.MatterField)
				if !ok || mf.Type != model.TypeRef || mf.Ref != model.MatterCollection || !mf.Required {
					t.Fatalf("collection %s is not tied to a matter", name)
				}
			}
			for _, col := range c.Columns {
				if _, ok := c.Field(col); !ok {
					t.Fatalf("%s: column %s is not a field", name, col)
				}
			}
			for _, v := range samples {
				rec := model.Fields{}
				for _, fn := range c.FieldNames() {
					rec[fn] = v
				}
				c.Validate(rec, true)
				c.Validate(rec, false)
			}
		}
	})
}
