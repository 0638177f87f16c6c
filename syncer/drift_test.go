package syncer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"casefile/assets"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// driftedSchema is the shipped schema as a newer server has it: notes
// lost their body and gained a required court.
func driftedSchema(t *testing.T) *model.Schema {
	t.Helper()
	old := "  [[collection.field]]\n  name = \"body\"\n  type = \"longtext\"\n"
	src := string(assets.Schema)
	if !strings.Contains(src, old) {
		t.Fatal("the shipped schema has no note body to remove")
	}
	src = strings.Replace(src, old, "  [[collection.field]]\n  name = \"court\"\n  type = \"text\"\n  required = true\n", 1)
	s, err := model.ParseSchema([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaDriftFailsOnceWithTheFields (issue 10, schema drift): a device
// whose schema is older than the server's gets its note refused with a
// sentence saying what differs and the fields named for the editor; later
// edits of the note queue behind the refused op instead of folding into
// it and sending it again on every edit, and nothing is lost.
func TestSchemaDriftFailsOnceWithTheFields(t *testing.T) {
	drifted := driftedSchema(t)
	if drifted.Fingerprint() == localdbtest.Schema(t).Fingerprint() {
		t.Fatal("the drifted schema has the same fingerprint as the shipped one")
	}
	w, _, a := newSolo(t, func(o *server.Options) { o.Schema = drifted })
	m := a.create("matter", model.Fields{"title": "Drift"})
	n := a.create("note", model.Fields{model.MatterField: m.ID, "title": "Hearing notes", "body": "the judge said"})
	a.sync()

	var refused localdb.OutboxOp
	for _, op := range a.outbox() {
		if op.RecordID == n.ID {
			refused = op
		}
	}
	if refused.State != localdb.OpFailed || refused.ErrorCode != protocol.CodeSchemaMismatch {
		t.Fatalf("the note's op is %s (%s), want failed with %s", refused.State, refused.ErrorCode, protocol.CodeSchemaMismatch)
	}
	for _, want := range []string{"note.court is required on the server", "note.body is not a field on the server", "Update Casefile"} {
		if !strings.Contains(refused.LastError, want) {
			t.Errorf("the refusal says %q; want it to say %q", refused.LastError, want)
		}
	}
	fields, err := a.db.RejectedFields(context.Background(), n.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []localdb.RejectedField{
		{Collection: "note", Field: "body", Kind: model.ProblemUnknownField},
		{Collection: "note", Field: "court", Kind: model.ProblemRequired},
	}
	if !slices.Equal(fields, want) {
		t.Errorf("rejected fields = %v, want %v", fields, want)
	}

	// An edit of the note does not send the refused op again.
	pushes := w.proxy.Requests(protocol.PathPush)
	a.update(n.ID, model.Fields{"title": "Hearing notes, day 2"})
	a.sync()
	if got := w.proxy.Requests(protocol.PathPush) - pushes; got != 0 {
		t.Errorf("after an edit of the refused note %d push(es) went out, want none", got)
	}
	ops := a.outbox()
	if len(ops) != 2 || ops[0].OpID != refused.OpID || ops[0].State != localdb.OpFailed || ops[1].State != localdb.OpPending {
		t.Fatalf("outbox after the edit = %+v; want the refused op kept as it was and the edit queued behind it", ops)
	}
	if got := a.get(n.ID); got.Fields["title"] != "Hearing notes, day 2" || got.Fields["body"] != "the judge said" {
		t.Errorf("the note reads %v; want the edit and the body kept", got.Fields)
	}
}

// TestRefusalWithoutFingerprintIsValidation: a client that sends no schema
// fingerprint (one older than it) is answered as before — validation —
// with the fields now named too.
func TestRefusalWithoutFingerprintIsValidation(t *testing.T) {
	_, alice, a := newSolo(t)
	m := a.create("matter", model.Fields{"title": "Same"})
	a.sync()
	op := model.Op{OpID: model.NewID(), RecordID: model.NewID(), Collection: "note", Kind: model.OpCreate,
		Fields: model.Fields{model.MatterField: m.ID, "status": "nonsense"}}
	res := alice.PushOne(t, op)
	if res.Code != protocol.CodeValidation || len(res.Problems) != 2 {
		t.Fatalf("an invalid note: %s %q with problems %v; want validation naming title and status", res.Code, res.Message, res.Problems)
	}
}
