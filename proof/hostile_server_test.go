package proof

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// hostile is one hostile request and what the server must answer.
type hostile struct {
	name         string
	method, path string
	body, token  string
	header       map[string]string
	status       int
	// code is the stable error code; for a 200 push, every op's
	// rejection code.
	code protocol.Code
	// same, for a 200 push, is the rejection message every op must carry:
	// the one for a record that does not exist.
	same string
}

// hostileWorld is a server with users in every situation a request can
// come from.
type hostileWorld struct {
	srv                        *servertest.Server
	admin, alice, bob, viewer  *servertest.Client
	expired, revoked, formerly *servertest.Client
	aliceMatter, aliceNote     *protocol.Record
	bobMatter, bobNote         *protocol.Record
	bobOp                      string // an op id bob used
	secret                     string // the title of bob's note
}

func newHostileWorld(t *testing.T) *hostileWorld {
	t.Helper()
	clk := &clock{}
	srv := servertest.Start(t, clk.option(), noRateLimit)
	w := &hostileWorld{srv: srv, secret: "Bob's privileged strategy memo"}
	w.admin = srv.NewUser(t, "root", server.RoleAdmin)
	w.alice = srv.NewUser(t, "alice", server.RoleMember)
	w.bob = srv.NewUser(t, "bob", server.RoleMember)
	w.viewer = srv.NewUser(t, "vera", server.RoleViewer)
	w.aliceMatter = w.alice.CreateMatter(t, "Smith v Jones")
	w.aliceNote = w.alice.CreateNote(t, w.aliceMatter.ID, "First meeting")
	w.bobMatter = w.bob.CreateMatter(t, "Doe v Roe")
	op := servertest.Create("note", model.Fields{model.MatterField: w.bobMatter.ID, "title": w.secret})
	w.bobOp = op.OpID
	if res := w.bob.PushOne(t, op); res.Result != model.ResultApplied {
		t.Fatalf("bob's note: %+v", res)
	}
	w.bobNote = w.bob.PushOne(t, servertest.Update(&protocol.Record{ID: op.RecordID, Collection: "note", Version: 1},
		model.Fields{"status": "draft"})).Record
	if err := srv.Grant(bg, "vera", w.aliceMatter.ID); err != nil {
		t.Fatal(err)
	}
	// formerly was a member of alice's matter and was revoked.
	w.formerly = srv.NewUser(t, "frank", server.RoleMember)
	if err := srv.Grant(bg, "frank", w.aliceMatter.ID); err != nil {
		t.Fatal(err)
	}
	if err := srv.Revoke(bg, "frank", w.aliceMatter.ID); err != nil {
		t.Fatal(err)
	}
	// revoked logged in, then an admin revoked all their tokens.
	w.revoked = srv.NewUser(t, "rita", server.RoleMember)
	if _, err := srv.RevokeTokens(bg, "rita", ""); err != nil {
		t.Fatal(err)
	}
	// expired logged in longer ago than a token lives.
	if err := srv.AddUser(bg, "ezra", servertest.Password, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	clk.shift(-server.DefaultTokenTTL - time.Hour)
	var err error
	if w.expired, err = servertest.Login(bg, srv.URL, "ezra", servertest.Password, "old laptop"); err != nil {
		t.Fatal(err)
	}
	clk.shift(server.DefaultTokenTTL + time.Hour)
	return w
}

// pushBody is a push of one op given as JSON object members.
func pushBody(members string) string { return `{"ops":[{` + members + `}]}` }

// opMembers is a well-formed op's members with extra appended.
func opMembers(kind, collection, recordID string, base int64, extra string) string {
	return fmt.Sprintf(`"op_id":%q,"record_id":%q,"collection":%q,"kind":%q,"base_version":%d%s`,
		model.NewID(), recordID, collection, kind, base, extra)
}

func fieldsJSON(f model.Fields) string {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return `,"fields":` + string(b)
}

// TestHostileRequests sends every kind of hostile request to a real server
// and checks each answer: the right status, a JSON error with a stable
// code (or, for a push, a per-op rejection with one), nothing internal or
// belonging to another user in the body, and the server's data unchanged.
func TestHostileRequests(t *testing.T) {
	w := newHostileWorld(t)
	cases := w.cases(t)
	if len(cases) < 60 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	forbid := []string{w.secret, w.bobNote.ID, w.bobMatter.ID, w.srv.Dir}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := serverState(t, w.srv, w.admin)
			a := send(t, w.srv.URL, c.method, c.path, c.body, c.token, c.header)
			if a.status != c.status {
				t.Fatalf("status %d, want %d; body %.300s", a.status, c.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if !json.Valid([]byte(a.body)) {
				t.Fatalf("the body is not JSON: %.300s", a.body)
			}
			if l := leaked(a.body, forbid); l != "" {
				t.Errorf("the answer holds %q: %.500s", l, a.body)
			}
			if c.status == http.StatusOK {
				w.checkRejections(t, c, a.body)
			} else {
				var er protocol.ErrorResponse
				if err := json.Unmarshal([]byte(a.body), &er); err != nil || er.Error.Code != c.code || er.Error.Message == "" {
					t.Errorf("error body %.300s, want code %q and a sentence", a.body, c.code)
				}
			}
			if after := serverState(t, w.srv, w.admin); after != before {
				t.Errorf("the request changed the server's data:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Logf("%d hostile requests", len(cases))
}

// checkRejections checks a 200 push answer: every op rejected with the
// case's code, without a record, and with the message of a missing record
// where the case asks for it.
func (w *hostileWorld) checkRejections(t *testing.T, c hostile, body string) {
	t.Helper()
	if c.code == "" {
		return
	}
	var resp protocol.PushResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("push answer: %v", err)
	}
	if len(resp.Results) == 0 {
		t.Fatalf("no results: %s", body)
	}
	for _, r := range resp.Results {
		if r.Result != model.ResultRejected || r.Code != c.code || r.Message == "" || r.Record != nil {
			t.Errorf("result %+v, want rejected %q with a sentence and no record", r, c.code)
		}
		if c.same != "" && r.Message != c.same {
			t.Errorf("message %q differs from the one for a record that does not exist (%q): it tells the record exists", r.Message, c.same)
		}
	}
}

// notFoundMessage is the rejection of an update of a record nobody has.
func (w *hostileWorld) notFoundMessage(t *testing.T) string {
	t.Helper()
	res := w.alice.PushOne(t, model.Op{OpID: model.NewID(), RecordID: model.NewID(), Collection: "note",
		Kind: model.OpUpdate, Fields: model.Fields{"title": "x"}, BaseVersion: 1})
	if res.Result != model.ResultRejected || res.Code != protocol.CodeNotFound {
		t.Fatalf("update of a missing record: %+v", res)
	}
	return res.Message
}
