package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"casefile/internal/fieldtext/fieldtexttest"
	"casefile/model"
	"casefile/protocol"
)

// TestEncodePushIsJSONs: EncodePush writes what encoding the ops as a
// protocol.PushRequest writes, byte for byte, whether an op carries its
// fields decoded, encoded as json writes them, or encoded otherwise
// (indented: encoding/json compacts a raw message).
func TestEncodePushIsJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var ops []model.Op
		if !rapid.Bool().Draw(t, "nil ops") {
			ops = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) model.Op {
				return model.Op{OpID: fieldtexttest.String().Draw(t, "op id"), RecordID: fieldtexttest.String().Draw(t, "record id"),
					Collection: fieldtexttest.String().Draw(t, "collection"), Kind: model.OpKind(fieldtexttest.String().Draw(t, "kind")),
					Fields: fieldtexttest.Object(0).Draw(t, "fields"), BaseVersion: rapid.Int64().Draw(t, "base version"),
					Resent: rapid.Bool().Draw(t, "resent"), SentSince: rapid.Int64().Draw(t, "sent since")}
			}), 0, 5).Draw(t, "ops")
		}
		want, err := json.Marshal(protocol.PushRequest{Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		var p []PushOp
		if ops != nil {
			p = make([]PushOp, len(ops))
		}
		for i, o := range ops {
			p[i] = PushOp{Op: o}
			switch rapid.SampledFrom([]string{"decoded", "encoded", "indented"}).Draw(t, "fields as") {
			case "encoded":
				if o.Fields != nil {
					if p[i].FieldsJSON, err = json.Marshal(o.Fields); err != nil {
						t.Fatal(err)
					}
				}
				p[i].Fields = nil
			case "indented":
				if o.Fields != nil {
					if p[i].FieldsJSON, err = json.MarshalIndent(o.Fields, "", " "); err != nil {
						t.Fatal(err)
					}
				}
				p[i].Fields = nil
			}
		}
		push, err := EncodePush(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(push.body) != string(want) || push.Size() != len(want) {
			t.Fatalf("encoded\n%q\nwant\n%q", push.body, want)
		}
	})
}

// TestEncodedFieldsPushLikeModelOps: a push whose ops carry their fields
// encoded (as the outbox holds them) sends the same bytes as the push of
// the ops with their fields decoded.
func TestEncodedFieldsPushLikeModelOps(t *testing.T) {
	ops := []model.Op{
		{OpID: "a", RecordID: "r1", Collection: "note", Kind: model.OpCreate, BaseVersion: 0,
			Fields: model.Fields{"title": "<b>&\u2028", "n": 1.5, "tags": []string{"x", "y"}, "done": true}},
		{OpID: "b", RecordID: "r2", Collection: "note", Kind: model.OpUpdate, BaseVersion: 3,
			Fields: model.Fields{"body": nil}, Resent: true, SentSince: 42},
		{OpID: "c", RecordID: "r3", Collection: "note", Kind: model.OpDelete, BaseVersion: 7},
		{OpID: "d", RecordID: "r4", Collection: "note", Kind: model.OpUpdate, Fields: model.Fields{}},
	}
	want, err := json.Marshal(protocol.PushRequest{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	for _, encoded := range []bool{false, true} {
		p := make([]PushOp, len(ops))
		for i, o := range ops {
			p[i] = PushOp{Op: o}
			if encoded {
				if o.Fields != nil {
					b, err := json.Marshal(o.Fields)
					if err != nil {
						t.Fatal(err)
					}
					p[i].FieldsJSON = b
				}
				p[i].Fields = nil
			}
		}
		push, err := EncodePush(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(push.body) != string(want) || push.Size() != len(want) {
			t.Fatalf("encoded=%v:\n%s\nwant\n%s", encoded, push.body, want)
		}
	}
}

// TestSendPushSendsTheEncodedBody: what the server reads is the body
// EncodePush made, and the answer is checked against its ops.
func TestSendPushSendsTheEncodedBody(t *testing.T) {
	push, err := EncodePush([]PushOp{{Op: model.Op{OpID: "a", RecordID: "r1", Collection: "note", Kind: model.OpCreate},
		FieldsJSON: []byte(`{"title":"x"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if r.Header.Get(protocol.HeaderCursor) != "5" {
			t.Errorf("cursor header %q", r.Header.Get(protocol.HeaderCursor))
		}
		w.Write([]byte(`{"results":[{"op_id":"b","result":"applied"}],"head":1}`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendPush(context.Background(), push, 5); err == nil {
		t.Fatal("an answer for another op was taken")
	}
	if string(got) != `{"ops":[{"op_id":"a","record_id":"r1","collection":"note","kind":"create","fields":{"title":"x"},"base_version":0}]}` {
		t.Fatalf("body %s", got)
	}
}

// TestPushAnswerKeys: an answer's prior head is read when the server
// sends it and absent (nil, not 0) when it does not, and a key this
// client does not know is ignored: servers add keys to answers without a
// new protocol version.
func TestPushAnswerKeys(t *testing.T) {
	push, err := EncodePush([]PushOp{{Op: model.Op{OpID: "a", RecordID: "r1", Collection: "note", Kind: model.OpCreate},
		FieldsJSON: []byte(`{"title":"x"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		answer string
		prior  *int64
	}{
		{`{"results":[{"op_id":"a","result":"applied"}],"head":7,"prior":6}`, ptr(int64(6))},
		{`{"results":[{"op_id":"a","result":"applied"}],"head":7,"prior":0}`, ptr(int64(0))},
		{`{"results":[{"op_id":"a","result":"applied"}],"head":7}`, nil},
		{`{"results":[{"op_id":"a","result":"applied"}],"head":7,"prior":6,"later_key":{"x":[1]}}`, ptr(int64(6))},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(c.answer))
		}))
		cl, err := NewClient(srv.URL, "tok", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.SendPush(context.Background(), push, 5)
		srv.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.answer, err)
		}
		if (resp.Prior == nil) != (c.prior == nil) || resp.Prior != nil && *resp.Prior != *c.prior || resp.Head != 7 {
			t.Fatalf("%s: prior %v head %d", c.answer, resp.Prior, resp.Head)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestClientNamesItself: a client sends the same Casefile-Client on its
// pushes and its event stream, so the server does not poke it for its own
// pushes, and two clients (even on one token) send different ones.
func TestClientNamesItself(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // path → the header, request by request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = append(seen[r.URL.Path], r.Header.Get(protocol.HeaderClient))
		mu.Unlock()
		switch r.URL.Path {
		case protocol.PathPush:
			_ = json.NewEncoder(w).Encode(protocol.PushResponse{Results: []protocol.OpResult{}})
		case protocol.PathEvents:
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, ": connected\n\n")
		default:
			_ = json.NewEncoder(w).Encode(protocol.PullResponse{})
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var ids []string
	for range 2 {
		c, err := NewClient(srv.URL, "the same token", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Push(ctx, nil); err != nil {
			t.Fatal(err)
		}
		st, err := c.Events(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if _, err := c.Pull(ctx, 0, 10, 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.id)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, id := range ids {
		if len(id) != 32 || seen[protocol.PathPush][i] != id || seen[protocol.PathEvents][i] != id {
			t.Errorf("client %d is %q; it sent %q on its push and %q on its stream", i, id, seen[protocol.PathPush][i], seen[protocol.PathEvents][i])
		}
	}
	if ids[0] == ids[1] {
		t.Errorf("two clients both named themselves %q", ids[0])
	}
	if got := seen[protocol.PathPull]; len(got) != 2 || got[0] != "" || got[1] != "" {
		t.Errorf("pulls sent %q; a pull needs no name", got)
	}
}

// TestLeanPushAnswers: a push asks for lean answers unless the client was
// made to ask for full ones, and takes a result that leaves its record's
// fields out as the ones sent only where it asked and the op sent fields,
// with no fields in the record; anything else is a protocol error.
func TestLeanPushAnswers(t *testing.T) {
	ops := []PushOp{
		{Op: model.Op{OpID: "a", RecordID: "r1", Collection: "note", Kind: model.OpCreate}, FieldsJSON: []byte(`{"title":"x"}`)},
		{Op: model.Op{OpID: "b", RecordID: "r2", Collection: "note", Kind: model.OpDelete}},
	}
	push, err := EncodePush(ops)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id, fields string) string {
		return fmt.Sprintf(`{"id":%q,"collection":"note","matter_id":"m","version":1,"seq":3,%s"created_by":"u","created_at":"2026-01-02T03:04:05Z","updated_by":"u","updated_at":"2026-01-02T03:04:05Z"}`, id, fields)
	}
	deleted := `{"op_id":"b","result":"applied","record":` + rec("r2", `"deleted":true,"fields":null,`) + `}`
	for _, c := range []struct {
		name, answer string
		full, ok     bool
	}{
		{"lean, asked", `{"op_id":"a","result":"applied","record":` + rec("r1", `"fields":null,`) + `,"fields_sent":true}`, false, true},
		{"lean, not asked", `{"op_id":"a","result":"applied","record":` + rec("r1", `"fields":null,`) + `,"fields_sent":true}`, true, false},
		{"lean with fields", `{"op_id":"a","result":"applied","record":` + rec("r1", `"fields":{"title":"x"},`) + `,"fields_sent":true}`, false, false},
		{"lean without a record", `{"op_id":"a","result":"applied","fields_sent":true}`, false, false},
		{"in full, asked", `{"op_id":"a","result":"applied","record":` + rec("r1", `"fields":{"title":"x"},`) + `}`, false, true},
		{"in full, not asked", `{"op_id":"a","result":"applied","record":` + rec("r1", `"fields":{"title":"x"},`) + `}`, true, true},
	} {
		for _, second := range []string{deleted, strings.Replace(deleted, `}}`, `},"fields_sent":true}`, 1)} {
			var asked string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked = r.Header.Get(protocol.HeaderPushAnswer)
				fmt.Fprintf(w, `{"results":[%s,%s],"head":3}`, c.answer, second)
			}))
			var opts []Option
			if c.full {
				opts = append(opts, WithFullPushAnswers())
			}
			cl, err := NewClient(srv.URL, "tok", nil, opts...)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := cl.SendPush(context.Background(), push, -1)
			srv.Close()
			if want := map[bool]string{false: protocol.PushAnswerLean, true: ""}[c.full]; asked != want {
				t.Errorf("%s: asked %q, want %q", c.name, asked, want)
			}
			// A delete sends no fields: its answer can never leave them out.
			ok := c.ok && second == deleted
			if ok != (err == nil) {
				t.Errorf("%s (%s): err %v, want ok %v", c.name, second, err, ok)
			}
			if err == nil && resp.Results[0].FieldsSent != strings.Contains(c.answer, "fields_sent") {
				t.Errorf("%s: FieldsSent %v", c.name, resp.Results[0].FieldsSent)
			}
		}
	}
}

// TestAnswerBytesHeard: the client takes up the answer bound a push's
// answer names (protocol.HeaderAnswerBytes), a refusal's too, and keeps
// the last good one through answers that name none or name nonsense.
func TestAnswerBytesHeard(t *testing.T) {
	var mu sync.Mutex
	var bound string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if bound != "" {
			w.Header().Set(protocol.HeaderAnswerBytes, bound)
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			fmt.Fprint(w, `{"results":[],"head":1}`)
			return
		}
		fmt.Fprintf(w, `{"error":{"code":%q,"message":"too large"}}`, protocol.CodeAnswerTooLarge)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "token", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		bound  string
		status int
		want   int
	}{
		{"", http.StatusOK, 0},
		{"1048576", http.StatusOK, 1 << 20},
		{"", http.StatusOK, 1 << 20},
		{"262144", http.StatusRequestEntityTooLarge, 256 << 10},
		{"0", http.StatusOK, 256 << 10},
		{"-5", http.StatusOK, 256 << 10},
		{"lots", http.StatusOK, 256 << 10},
		{"99999999999999999999", http.StatusOK, 256 << 10},
		{" 4096 ", http.StatusOK, 4096},
	} {
		mu.Lock()
		bound, status = step.bound, step.status
		mu.Unlock()
		p, err := EncodePush(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SendPush(context.Background(), p, -1)
		if (err != nil) != (step.status != http.StatusOK) {
			t.Fatalf("answer %d with bound %q: %v", step.status, step.bound, err)
		}
		if got := c.AnswerBytes(); got != step.want {
			t.Fatalf("after an answer naming %q the bound is %d, want %d", step.bound, got, step.want)
		}
	}
}
