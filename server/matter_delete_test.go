package server_test

import (
	"context"
	"strings"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

func TestMatterDeleteSQLite(t *testing.T)   { testMatterDelete(t, startSQLite) }
func TestMatterDeletePostgres(t *testing.T) { testMatterDelete(t, startPostgres) }

// A matter that holds records is never deleted out from under them: the
// delete is refused with the counts, whoever added the records; deleting
// the records first, in the same push, lets it go.
func testMatterDelete(t *testing.T, start starter) {
	w := newWorld(t, start)
	n1 := w.alice.CreateNote(t, w.m.ID, "One")
	n2 := w.bob.CreateNote(t, w.m.ID, "Bob's, added on another device")
	head := w.head(t)
	res := w.alice.PushOne(t, servertest.Delete(w.m))
	expect(t, res, model.ResultRejected, protocol.CodeMatterNotEmpty)
	if !strings.Contains(res.Message, "note: 2") || w.head(t) != head {
		t.Fatalf("refusal %q (head %d → %d): want the count and nothing written", res.Message, head, w.head(t))
	}
	// A tombstone is not held: with one note deleted, one still holds it.
	expect(t, w.alice.PushOne(t, servertest.Delete(n1)), model.ResultApplied, "")
	res = w.alice.PushOne(t, servertest.Delete(w.m))
	expect(t, res, model.ResultRejected, protocol.CodeMatterNotEmpty)
	if !strings.Contains(res.Message, "note: 1") {
		t.Fatalf("refusal %q, want one note", res.Message)
	}
	// The cascade as a client sends it: the records first, then the matter.
	resp, err := w.alice.Push(context.Background(), servertest.Delete(n2), servertest.Delete(w.m))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		expect(t, r, model.ResultApplied, "")
	}
	// Nothing can be added to the deleted matter afterwards.
	res = w.bob.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: w.m.ID, "title": "Too late"}))
	expect(t, res, model.ResultRejected, protocol.CodeNotFound)
}
