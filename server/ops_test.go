package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"casefile/assets"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// memoSchema adds to the real schema a collection whose edits overlap under
// last-writer-wins, with one server-wins field.
const memoSchema = `
[[collection]]
name = "memo"
merge = "last-writer-wins"
  [[collection.field]]
  name = "matter_id"
  type = "ref"
  ref = "matter"
  required = true
  [[collection.field]]
  name = "text"
  type = "text"
  required = true
  [[collection.field]]
  name = "stamp"
  type = "text"
  merge = "server-wins"
`

// world is a server with a few users and matters: alice and bob share
// matter m; p is alice's alone; carol is a viewer of m; dave has nothing.
type world struct {
	srv                     *servertest.Server
	alice, bob, carol, dave *servertest.Client
	m, p                    *protocol.Record
}

type starter func(t *testing.T, opts ...servertest.Option) *servertest.Server

func startSQLite(t *testing.T, opts ...servertest.Option) *servertest.Server {
	return servertest.Start(t, opts...)
}

func startPostgres(t *testing.T, opts ...servertest.Option) *servertest.Server {
	url := storetest.PostgresURL(t)
	return servertest.Start(t, append([]servertest.Option{func(o *server.Options) { o.DatabaseURL = url }}, opts...)...)
}

func newWorld(t *testing.T, start starter, opts ...servertest.Option) *world {
	t.Helper()
	schema, err := model.ParseSchema(append(append([]byte{}, assets.Schema...), memoSchema...))
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, append([]servertest.Option{func(o *server.Options) { o.Schema = schema }}, opts...)...)
	w := &world{srv: srv}
	w.alice = srv.NewUser(t, "alice", server.RoleMember)
	w.bob = srv.NewUser(t, "bob", server.RoleMember)
	w.carol = srv.NewUser(t, "carol", server.RoleViewer)
	w.dave = srv.NewUser(t, "dave", server.RoleMember)
	w.m = w.alice.CreateMatter(t, "Shared matter")
	w.p = w.alice.CreateMatter(t, "Private matter")
	ctx := context.Background()
	for _, u := range []string{"bob", "carol"} {
		if err := srv.Grant(ctx, u, w.m.ID); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) head(t *testing.T) int64 {
	t.Helper()
	h, err := w.srv.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func expect(t *testing.T, res protocol.OpResult, result model.OpResult, code protocol.Code) {
	t.Helper()
	if res.Result != result || res.Code != code {
		t.Fatalf("result %s/%s (%s), want %s/%s", res.Result, res.Code, res.Message, result, code)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpsSQLite(t *testing.T)   { testOps(t, startSQLite) }
func TestOpsPostgres(t *testing.T) { testOps(t, startPostgres) }

func testOps(t *testing.T, start starter) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, w *world)
	}{
		{"ApplyMergeConflict", testApplyMergeConflict},
		{"Policies", testPolicies},
		{"CreateTakenID", testCreateTakenID},
		{"DeleteAndRestore", testDeleteAndRestore},
		{"DeleteEditConflict", testDeleteEditConflict},
		{"NotFound", testNotFound},
		{"Move", testMove},
		{"MatterRules", testMatterRules},
		{"Viewer", testViewer},
		{"Validation", testValidation},
		{"Replay", testReplay},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newWorld(t, start)) })
	}
}

func testApplyMergeConflict(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Interview")
	res := w.alice.PushOne(t, servertest.Update(note, model.Fields{"title": "Interview notes"}))
	expect(t, res, model.ResultApplied, "")
	if res.Record.Version != 2 || res.Record.Fields["title"] != "Interview notes" {
		t.Fatalf("applied record = %+v", res.Record)
	}
	// bob edits another field from version 1: merged over alice's change.
	res = w.bob.PushOne(t, servertest.Update(note, model.Fields{"body": "Witness was late."}))
	expect(t, res, model.ResultMerged, "")
	if res.Record.Version != 3 || res.Record.Fields["title"] != "Interview notes" || res.Record.Fields["body"] != "Witness was late." {
		t.Fatalf("merged record = %+v", res.Record)
	}
	// bob edits the title from version 1 too: it overlaps alice's; review.
	head := w.head(t)
	res = w.bob.PushOne(t, servertest.Update(note, model.Fields{"title": "Bob's title", "status": "open"}))
	expect(t, res, model.ResultConflict, "")
	if !slices.Equal(res.ConflictFields, []string{"title"}) || res.Record.Version != 3 || res.Record.Fields["title"] != "Interview notes" {
		t.Fatalf("conflict = %+v record %+v", res, res.Record)
	}
	if _, ok := res.Record.Fields["status"]; ok || w.head(t) != head {
		t.Fatal("a conflicting op changed the record")
	}
	// The answer names who changed the title (alice, at version 2), not
	// the record's last writer (bob, at version 3).
	if res.ChangedBy != "alice" || res.Record.UpdatedBy != "bob" || res.ChangedAt.IsZero() || !res.ChangedAt.Before(res.Record.UpdatedAt) {
		t.Fatalf("conflict names %q at %v; the record was last changed by %q at %v", res.ChangedBy, res.ChangedAt, res.Record.UpdatedBy, res.Record.UpdatedAt)
	}
	// Setting the value the server already has never conflicts.
	res = w.bob.PushOne(t, servertest.Update(note, model.Fields{"title": "Interview notes"}))
	expect(t, res, model.ResultMerged, "")
	if w.head(t) != head || res.Record.Version != 3 {
		t.Fatalf("an edit to the same value took a seq or a version: %+v", res.Record)
	}
}

func testPolicies(t *testing.T, w *world) {
	res := w.alice.PushOne(t, servertest.Create("memo", model.Fields{"matter_id": w.m.ID, "text": "a", "stamp": "s1"}))
	expect(t, res, model.ResultApplied, "")
	memo := res.Record
	expect(t, w.alice.PushOne(t, servertest.Update(memo, model.Fields{"text": "alice", "stamp": "s2"})), model.ResultApplied, "")
	res = w.bob.PushOne(t, servertest.Update(memo, model.Fields{"text": "bob", "stamp": "s3"}))
	expect(t, res, model.ResultMerged, "")
	if res.Record.Fields["text"] != "bob" || res.Record.Fields["stamp"] != "s2" || !slices.Equal(res.Dropped, []string{"stamp"}) {
		t.Fatalf("last-writer-wins text and server-wins stamp: %+v dropped %v", res.Record.Fields, res.Dropped)
	}
}

func testCreateTakenID(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Mine")
	// bob sees the record: his create of it (a backup restored on a new
	// device) writes nothing and the server's copy stands, the values
	// that differ named.
	head := w.head(t)
	op := servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "Again"})
	op.RecordID = note.ID
	res := w.bob.PushOne(t, op)
	expect(t, res, model.ResultMerged, "")
	if res.Record == nil || res.Record.Fields["title"] != "Mine" || res.Record.Version != note.Version || !slices.Equal(res.Dropped, []string{"title"}) {
		t.Fatalf("a create of a record bob can see: %+v", res)
	}
	op = servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "Mine"})
	op.RecordID = note.ID
	if res = w.bob.PushOne(t, op); res.Result != model.ResultApplied || len(res.Dropped) != 0 || res.Record.Version != note.Version {
		t.Fatalf("a create with the server's values: %+v", res)
	}
	if w.head(t) != head {
		t.Fatal("a create of a record the server had took a seq")
	}
	// As another collection it is refused.
	op = servertest.Create("task", model.Fields{"matter_id": w.m.ID, "title": "Again"})
	op.RecordID = note.ID
	expect(t, w.bob.PushOne(t, op), model.ResultRejected, protocol.CodeIDConflict)
	// dave cannot see the record, and is told the same.
	op = servertest.Create(model.MatterCollection, model.Fields{"title": "Dave's"})
	op.RecordID = note.ID
	res = w.dave.PushOne(t, op)
	expect(t, res, model.ResultRejected, protocol.CodeIDConflict)
	if res.Record != nil {
		t.Fatal("an id conflict revealed the record")
	}
}

func testDeleteAndRestore(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Short-lived")
	res := w.alice.PushOne(t, servertest.Delete(note))
	expect(t, res, model.ResultApplied, "")
	tomb := res.Record
	if !tomb.Deleted || tomb.Version != 2 {
		t.Fatalf("tombstone = %+v", tomb)
	}
	// An edit of the deleted record (bob still had version 1).
	res = w.bob.PushOne(t, servertest.Update(note, model.Fields{"body": "late edit"}))
	expect(t, res, model.ResultConflict, "")
	if res.Record == nil || !res.Record.Deleted || !slices.Equal(res.ConflictFields, []string{"body"}) {
		t.Fatalf("edit of deleted: %+v", res)
	}
	// Deleting again is applied and takes no seq.
	head := w.head(t)
	expect(t, w.bob.PushOne(t, servertest.Delete(note)), model.ResultApplied, "")
	if w.head(t) != head {
		t.Fatal("a second delete took a seq")
	}
	// A create with the id based on no version (a backup restored on a
	// new device) leaves it deleted: the server's state stands.
	op := servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "Back"})
	op.RecordID = note.ID
	res = w.bob.PushOne(t, op)
	expect(t, res, model.ResultMerged, "")
	if !res.Record.Deleted || res.Record.Version != tomb.Version {
		t.Fatalf("a create over a tombstone: %+v", res.Record)
	}
	// Based on an older version, it is refused.
	op.OpID, op.BaseVersion = model.NewID(), 1
	expect(t, w.bob.PushOne(t, op), model.ResultRejected, protocol.CodeIDConflict)
	// Based on the tombstone's version, it restores.
	op.OpID, op.BaseVersion = model.NewID(), tomb.Version
	res = w.bob.PushOne(t, op)
	expect(t, res, model.ResultApplied, "")
	if res.Record.Deleted || res.Record.Version != 3 || res.Record.Fields["title"] != "Back" || res.Record.CreatedBy != "alice" {
		t.Fatalf("restored = %+v", res.Record)
	}
}

func testDeleteEditConflict(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Contested")
	expect(t, w.bob.PushOne(t, servertest.Update(note, model.Fields{"body": "bob was here"})), model.ResultApplied, "")
	res := w.alice.PushOne(t, servertest.Delete(note))
	expect(t, res, model.ResultConflict, "")
	if res.Record.Deleted || !slices.Equal(res.ConflictFields, []string{"body"}) {
		t.Fatalf("delete of a changed record: %+v", res)
	}
	if res.ChangedBy != "bob" || !res.ChangedAt.Equal(res.Record.UpdatedAt) {
		t.Fatalf("the delete met bob's change, the answer names %q at %v", res.ChangedBy, res.ChangedAt)
	}
	expect(t, w.alice.PushOne(t, servertest.Delete(res.Record)), model.ResultApplied, "")
}

func testNotFound(t *testing.T, w *world) {
	private := w.alice.CreateNote(t, w.p.ID, "Privileged")
	missing := &protocol.Record{ID: model.NewID(), Collection: "note", Version: 1}
	var messages []string
	for _, op := range []model.Op{
		servertest.Update(missing, model.Fields{"title": "x"}),
		servertest.Update(private, model.Fields{"title": "x"}),
		servertest.Delete(missing),
		servertest.Delete(private),
	} {
		res := w.bob.PushOne(t, op)
		expect(t, res, model.ResultRejected, protocol.CodeNotFound)
		if res.Record != nil || strings.Contains(res.Message, "Privileged") {
			t.Fatalf("not_found revealed something: %+v", res)
		}
		messages = append(messages, res.Message)
	}
	if messages[0] != messages[1] || messages[2] != messages[3] {
		t.Fatalf("invisible and missing records answer differently: %q", messages)
	}
	// The wrong collection for an id is a missing record too.
	op := servertest.Update(private, model.Fields{"title": "x"})
	op.Collection = "task"
	expect(t, w.alice.PushOne(t, op), model.ResultRejected, protocol.CodeNotFound)
}

func testMove(t *testing.T, w *world) {
	ctx := context.Background()
	note := w.alice.CreateNote(t, w.m.ID, "Moving")
	cursor := w.head(t)
	// bob sees m but not p: he cannot move it there.
	res := w.bob.PushOne(t, servertest.Update(note, model.Fields{"matter_id": w.p.ID}))
	expect(t, res, model.ResultRejected, protocol.CodeNotFound)
	res = w.alice.PushOne(t, servertest.Update(note, model.Fields{"matter_id": w.p.ID}))
	expect(t, res, model.ResultApplied, "")
	if res.Record.MatterID != w.p.ID {
		t.Fatalf("moved record = %+v", res.Record)
	}
	page, err := w.bob.Pull(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 0 || len(page.Removed) != 1 || page.Removed[0] != (protocol.Removal{ID: note.ID, MatterID: w.m.ID}) {
		t.Fatalf("bob's pull after the move = %+v", page)
	}
	page, err = w.alice.Pull(ctx, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || len(page.Removed) != 0 {
		t.Fatalf("alice's pull after the move = %+v", page)
	}
	// bob cannot move a record out of a matter he cannot see either.
	res = w.bob.PushOne(t, servertest.Update(res.Record, model.Fields{"matter_id": w.m.ID}))
	expect(t, res, model.ResultRejected, protocol.CodeNotFound)
}

func testMatterRules(t *testing.T, w *world) {
	// A matter's own id cannot change: it has no such field.
	expect(t, w.alice.PushOne(t, servertest.Update(w.m, model.Fields{"id": model.NewID()})), model.ResultRejected, protocol.CodeValidation)
	expect(t, w.alice.PushOne(t, servertest.Update(w.m, model.Fields{"matter_id": model.NewID()})), model.ResultRejected, protocol.CodeValidation)
	// A record must go in a matter the user sees; unseen and missing read the same.
	a := w.bob.PushOne(t, servertest.Create("note", model.Fields{"matter_id": w.p.ID, "title": "x"}))
	b := w.bob.PushOne(t, servertest.Create("note", model.Fields{"matter_id": model.NewID(), "title": "x"}))
	expect(t, a, model.ResultRejected, protocol.CodeNotFound)
	expect(t, b, model.ResultRejected, protocol.CodeNotFound)
	if a.Message != b.Message {
		t.Fatalf("unseen matter %q, missing matter %q", a.Message, b.Message)
	}
	// The creator of a matter is its member.
	m := w.dave.CreateMatter(t, "Dave's own")
	expect(t, w.dave.PushOne(t, servertest.Create("note", model.Fields{"matter_id": m.ID, "title": "x"})), model.ResultApplied, "")
}

func testViewer(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Read me")
	for _, op := range []model.Op{
		servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "x"}),
		servertest.Update(note, model.Fields{"title": "y"}),
		servertest.Delete(note),
		servertest.Create(model.MatterCollection, model.Fields{"title": "x"}),
	} {
		expect(t, w.carol.PushOne(t, op), model.ResultRejected, protocol.CodeReadOnly)
	}
	page, err := w.carol.Pull(context.Background(), 0, 0)
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("the viewer's pull = %+v, %v; want the matter and its note", page, err)
	}
}

func testValidation(t *testing.T, w *world) {
	note := w.alice.CreateNote(t, w.m.ID, "Valid")
	head := w.head(t)
	for name, op := range map[string]model.Op{
		"too long":         servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": strings.Repeat("x", model.MaxTextLen+1)}),
		"unknown field":    servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "x", "colour": "red"}),
		"missing required": servertest.Create("note", model.Fields{"matter_id": w.m.ID}),
		"wrong type":       servertest.Update(note, model.Fields{"title": 7.0}),
		"bad enum":         servertest.Update(note, model.Fields{"status": "lost"}),
		"clear required":   servertest.Update(note, model.Fields{"title": nil}),
		"unknown coll":     servertest.Create("dossier", model.Fields{"title": "x"}),
		"future base":      {OpID: model.NewID(), RecordID: note.ID, Collection: "note", Kind: model.OpUpdate, Fields: model.Fields{"title": "z"}, BaseVersion: 9},
	} {
		res := w.alice.PushOne(t, op)
		if res.Result != model.ResultRejected || res.Code != protocol.CodeValidation || res.Message == "" {
			t.Errorf("%s: %+v, want rejected validation with a sentence", name, res)
		}
	}
	if w.head(t) != head {
		t.Fatal("rejected ops took a seq")
	}
}

func testReplay(t *testing.T, w *world) {
	ctx := context.Background()
	note := w.alice.CreateNote(t, w.m.ID, "Replayed")
	op := servertest.Update(note, model.Fields{"body": "once"})
	first := w.alice.PushOne(t, op)
	head := w.head(t)
	// bob changes the record meanwhile: a replay still answers the original.
	expect(t, w.bob.PushOne(t, servertest.Update(first.Record, model.Fields{"title": "Changed"})), model.ResultApplied, "")
	head2 := w.head(t)
	if again := w.alice.PushOne(t, op); jsonOf(t, again) != jsonOf(t, first) || w.head(t) != head2 {
		t.Fatalf("replay = %s, want %s; head %d→%d", jsonOf(t, again), jsonOf(t, first), head2, w.head(t))
	}
	_ = head
	// The same batch twice: identical results, seqs taken once.
	batch := []model.Op{
		servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "b1"}),
		servertest.Create("note", model.Fields{"matter_id": model.NewID(), "title": "rejected"}),
		servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "b3"}),
	}
	r1, err := w.alice.Push(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	h1 := w.head(t)
	r2, err := w.alice.Push(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	if jsonOf(t, r1.Results) != jsonOf(t, r2.Results) || w.head(t) != h1 || r2.Head != h1 {
		t.Fatalf("batch replay differs or took seqs:\n%s\n%s", jsonOf(t, r1.Results), jsonOf(t, r2.Results))
	}
	// The same op twice in one batch is applied once.
	dup := servertest.Create("note", model.Fields{"matter_id": w.m.ID, "title": "dup"})
	r3, err := w.alice.Push(ctx, dup, dup)
	if err != nil {
		t.Fatal(err)
	}
	if jsonOf(t, r3.Results[0]) != jsonOf(t, r3.Results[1]) || r3.Head != h1+1 {
		t.Fatalf("op twice in a batch: %s, head %d want %d", jsonOf(t, r3.Results), r3.Head, h1+1)
	}
	// Another user's op id reveals nothing.
	stolen := op
	stolen.RecordID = model.NewID()
	res := w.dave.PushOne(t, stolen)
	expect(t, res, model.ResultRejected, protocol.CodeIDConflict)
	if res.Record != nil {
		t.Fatal("another user's op id revealed its record")
	}
	// After losing the matter, a replay keeps its result but not the record.
	bobOp := servertest.Update(note, model.Fields{"status": "open"})
	w.bob.PushOne(t, bobOp)
	if err := w.srv.Revoke(ctx, "bob", w.m.ID); err != nil {
		t.Fatal(err)
	}
	if res := w.bob.PushOne(t, bobOp); res.Record != nil || res.Result == model.ResultRejected {
		t.Fatalf("replay after revoke = %+v; want the stored result without the record", res)
	}
}
