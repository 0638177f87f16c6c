package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

// bigBody is a note's body of 100,000 characters, the most a longtext
// holds: a record of some 100 KB.
var bigBody = strings.Repeat("The witness statement runs on. ", model.MaxLongTextLen/31)

// answered is what a push got: its status, the size of its answer's
// body as JSON, and the answer or the error.
type answered struct {
	status int
	bytes  int
	bound  string // its protocol.HeaderAnswerBytes
	resp   protocol.PushResponse
	err    protocol.Error
}

// pushRaw pushes ops in one request and reads the answer whatever its
// status.
func pushRaw(t *testing.T, c *servertest.Client, ops ...model.Op) answered {
	t.Helper()
	body, err := json.Marshal(protocol.PushRequest{Ops: ops})
	if err != nil {
		t.Error(err)
		return answered{}
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URL+protocol.PathPush, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Error(err)
		return answered{}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
		return answered{}
	}
	a := answered{status: resp.StatusCode, bytes: len(data), bound: resp.Header.Get(protocol.HeaderAnswerBytes)}
	if resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(data, &a.resp)
	} else {
		var er protocol.ErrorResponse
		err = json.Unmarshal(data, &er)
		a.err = er.Error
	}
	if err != nil {
		t.Errorf("push answered %d: %v", resp.StatusCode, err)
	}
	return a
}

// bigNotes creates n notes with a body of bigBody in matter m, per
// notes in a request.
func bigNotes(t *testing.T, c *servertest.Client, m string, n, per int) []*protocol.Record {
	t.Helper()
	var out []*protocol.Record
	for len(out) < n {
		var ops []model.Op
		for len(ops) < min(per, n-len(out)) {
			ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: m, "title": fmt.Sprintf("Statement %d", len(out)+len(ops)), "body": bigBody}))
		}
		resp, err := c.Push(context.Background(), ops...)
		if err != nil {
			t.Fatalf("create notes: %v", err)
		}
		for _, r := range resp.Results {
			if r.Result != model.ResultApplied {
				t.Fatalf("create note: %s %s", r.Result, r.Message)
			}
			out = append(out, r.Record)
		}
	}
	return out
}

func TestPushAnswerBound(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	testPushAnswerBound(t, st)
}

func TestPushAnswerBoundPostgres(t *testing.T) {
	st, err := pgstore.Open(context.Background(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	testPushAnswerBound(t, st)
}

// testPushAnswerBound: a push of small title edits to notes of 100 KB,
// whose answer would carry 24 whole notes (2.4 MB for a request of 4 KB),
// over a bound of 1 MiB, is refused with 413 answer_too_large, nothing of
// it applied: no version moved, no ledger entry kept. Another user's push
// in the same group commit is applied, and the refused ops sent again in
// smaller batches apply as new (no replay of a rolled-back answer). The
// bound is the server's option, here a sixteenth of the default, which
// TestPushAnswerBoundFitsFullRequests checks the server says it holds.
func testPushAnswerBound(t *testing.T, st store.Store) {
	ctx := context.Background()
	const bound = 1 << 20
	g := &gateStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	srv := servertest.Start(t, func(o *server.Options) { o.Store = g; o.PushAnswerBytes = bound })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	m := alice.CreateMatter(t, "Harbour Trust v. Quayside")
	mb := bob.CreateMatter(t, "Estate of Margaret Hale")
	notes := bigNotes(t, alice, m.ID, 24, 8)
	edits := make([]model.Op, len(notes))
	for i, n := range notes {
		edits[i] = servertest.Update(n, model.Fields{"title": fmt.Sprintf("Statement %d, revised", i)})
	}
	head0, err := srv.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// bob's first push holds the write lock; alice's edits and bob's
	// second push queue behind it and are applied as one group.
	g.armed.Store(true)
	before := g.writes.Load()
	var got [3]answered
	g.pushTogether(srv, 2, func(i int) {
		if i == 1 {
			got[i] = pushRaw(t, alice, edits...)
			return
		}
		got[i] = pushRaw(t, bob, servertest.Create("note", model.Fields{model.MatterField: mb.ID, "title": fmt.Sprintf("Bob's note %d", i)}))
	})

	refused := got[1]
	t.Logf("%d edits: answered %d, %d bytes", len(edits), refused.status, refused.bytes)
	if refused.status != http.StatusRequestEntityTooLarge || refused.err.Code != protocol.CodeAnswerTooLarge {
		t.Fatalf("the push of %d edits of large notes: %d %s (%d bytes), want 413 %s",
			len(edits), refused.status, refused.err.Code, refused.bytes, protocol.CodeAnswerTooLarge)
	}
	if want := fmt.Sprint(bound); refused.bound != want || got[0].bound != want {
		t.Errorf("the answers say the bound is %q (refused) and %q (applied), want %s", refused.bound, got[0].bound, want)
	}
	if !strings.Contains(refused.err.Message, "fewer") {
		t.Errorf("the refusal says %q: it should tell the client to send fewer changes", refused.err.Message)
	}
	for _, i := range []int{0, 2} {
		if got[i].status != http.StatusOK || len(got[i].resp.Results) != 1 || got[i].resp.Results[0].Result != model.ResultApplied {
			t.Errorf("bob's push %d beside the refused one: %d %+v", i, got[i].status, got[i])
		}
	}
	// The first push alone, then the group (rolled back at the refusal),
	// then the group again without the refused batch.
	if n := g.writes.Load() - before; n != 3 {
		t.Errorf("%d write transactions, want 3", n)
	}
	if head, _ := srv.Head(ctx); head != head0+2 {
		t.Errorf("head %d after the group, want %d: only bob's two notes", head, head0+2)
	}
	err = st.Read(ctx, func(r store.Reader) error {
		for _, op := range edits {
			if _, err := r.Ledger(ctx, op.OpID); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("the ledger holds op %s of the refused push (%v)", op.OpID, err)
			}
		}
		for _, n := range notes {
			rec, err := r.Record(ctx, n.ID)
			if err != nil {
				return err
			}
			if rec.Version != n.Version || rec.Fields["title"] != n.Fields["title"] {
				return fmt.Errorf("note %s at version %d titled %q after the refused push, want %d %q",
					n.ID, rec.Version, rec.Fields["title"], n.Version, n.Fields["title"])
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	rep, err := srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Errorf("audit after the refusal: %+v %v", rep, err)
	}
	fams, _ := scrape(t, srv.URL)
	if n := series(t, fams, "casefile_push_answer_too_large_total", nil).GetCounter().GetValue(); n != 1 {
		t.Errorf("casefile_push_answer_too_large_total %v, want 1", n)
	}

	// Sent again in thirds, the same ops apply: none has an answer to
	// replay. Each third's answer stays under the bound.
	for _, part := range [][]model.Op{edits[:8], edits[8:16], edits[16:]} {
		a := pushRaw(t, alice, part...)
		if a.status != http.StatusOK {
			t.Fatalf("a third of the edits: %d %s %s", a.status, a.err.Code, a.err.Message)
		}
		t.Logf("%d edits: answered %d bytes", len(part), a.bytes)
		if a.bytes > bound {
			t.Errorf("an answer of %d bytes, over the bound of %d", a.bytes, bound)
		}
		for k, r := range a.resp.Results {
			if r.Result != model.ResultApplied || r.Record == nil || r.Record.Version != 2 {
				t.Fatalf("edit %d sent again: %s %s %+v, want applied at version 2", k, r.Result, r.Message, r.Record)
			}
		}
	}
}

// TestPushAnswerBoundOneOp: a batch of one op is never refused for its
// answer, however small the bound; two such ops in a batch are, and
// nothing of them is applied.
func TestPushAnswerBoundOneOp(t *testing.T) {
	ctx := context.Background()
	const bound = 4 << 10
	srv := servertest.Start(t, func(o *server.Options) { o.PushAnswerBytes = bound })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Lindqvist v. Nordhavn")
	notes := bigNotes(t, alice, m.ID, 2, 1)
	head, _ := srv.Head(ctx)

	two := []model.Op{servertest.Update(notes[0], model.Fields{"title": "First"}), servertest.Update(notes[1], model.Fields{"title": "Second"})}
	if a := pushRaw(t, alice, two...); a.status != http.StatusRequestEntityTooLarge || a.err.Code != protocol.CodeAnswerTooLarge {
		t.Fatalf("two edits of large notes over a bound of %d: %d %s, want 413 %s", bound, a.status, a.err.Code, protocol.CodeAnswerTooLarge)
	} else if a.bound != fmt.Sprint(bound) {
		t.Fatalf("the refusal says the bound is %q, want %d", a.bound, bound)
	}
	if after, _ := srv.Head(ctx); after != head {
		t.Fatalf("head %d after the refused push, want %d", after, head)
	}
	for _, op := range two {
		a := pushRaw(t, alice, op)
		if a.status != http.StatusOK || a.resp.Results[0].Result != model.ResultApplied {
			t.Fatalf("one edit alone: %d %s %+v", a.status, a.err.Code, a.resp)
		}
		if a.bytes <= bound {
			t.Fatalf("one edit's answer is %d bytes, not over the bound of %d: the test proves nothing", a.bytes, bound)
		}
	}
}

// TestPushAnswerBoundFitsFullRequests: a batch of creates as large as a
// request may be, from a user whose name is as long as a name may be, is
// answered in full: the allowance per op covers what a result adds to its
// op.
func TestPushAnswerBoundFitsFullRequests(t *testing.T) {
	srv := servertest.Start(t)
	name := strings.Repeat("n", 64)
	c := srv.NewUser(t, name, server.RoleMember)
	m := c.CreateMatter(t, "Kestrel Logistics")
	ops := make([]model.Op, protocol.MaxOpsPerPush)
	for i := range ops {
		ops[i] = servertest.Create("note", model.Fields{model.MatterField: m.ID, "title": fmt.Sprintf("Exhibit %d", i), "body": ""})
	}
	empty, _ := json.Marshal(protocol.PushRequest{Ops: ops})
	// Fill the bodies so that the request is just under the limit.
	per := (protocol.MaxBodyBytes - len(empty) - 1) / len(ops)
	for i := range ops {
		ops[i].Fields["body"] = strings.Repeat("x", min(per, model.MaxLongTextLen))
	}
	full, _ := json.Marshal(protocol.PushRequest{Ops: ops})
	if len(full) > protocol.MaxBodyBytes || len(full) < protocol.MaxBodyBytes-len(ops) {
		t.Fatalf("a request of %d bytes, want just under %d", len(full), protocol.MaxBodyBytes)
	}
	a := pushRaw(t, c, ops...)
	if want := fmt.Sprint(protocol.MaxAnswerBytes); a.bound != want {
		t.Errorf("the server says it holds answers to %q bytes, want protocol.MaxAnswerBytes (%s)", a.bound, want)
	}
	if a.status != http.StatusOK {
		t.Fatalf("a full request of creates: %d %s %s", a.status, a.err.Code, a.err.Message)
	}
	t.Logf("a request of %d bytes answered with %d", len(full), a.bytes)
}
