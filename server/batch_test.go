package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
)

// Fixed ids, so two servers given the same history hold the same records
// at the same seqs.
const (
	idMatter  = "01900000-0000-7000-8000-000000000001"
	idKept    = "01900000-0000-7000-8000-000000000002"
	idShared  = "01900000-0000-7000-8000-000000000003"
	idNew     = "01900000-0000-7000-8000-000000000004"
	opBob     = "01900000-0000-7000-8000-0000000000b0"
	idMatter2 = "01900000-0000-7000-8000-000000000005"
	idEarly   = "01900000-0000-7000-8000-000000000006"
	idInM2    = "01900000-0000-7000-8000-000000000007"
	idLate    = "01900000-0000-7000-8000-000000000008"
)

func fixedOp(n int, kind model.OpKind, record, collection string, fields model.Fields, base int64) model.Op {
	return model.Op{OpID: opID(n), RecordID: record, Collection: collection, Kind: kind, Fields: fields, BaseVersion: base}
}

func opID(n int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012d", 1000+n) }

// batchWorld starts a server where alice and bob share a matter holding
// two notes, and bob has since edited one's title.
func batchWorld(t *testing.T, start starter) (*servertest.Server, *servertest.Client, *servertest.Client) {
	t.Helper()
	srv := start(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	bob := srv.NewUser(t, "bob", server.RoleMember)
	push := func(c *servertest.Client, op model.Op) {
		if res := c.PushOne(t, op); res.Result != model.ResultApplied {
			t.Fatalf("setup op: %+v", res)
		}
	}
	push(alice, fixedOp(90, model.OpCreate, idMatter, model.MatterCollection, model.Fields{"title": "Smith v Jones"}, 0))
	if err := srv.Grant(context.Background(), "bob", idMatter); err != nil {
		t.Fatal(err)
	}
	note := func(title string) model.Fields { return model.Fields{model.MatterField: idMatter, "title": title} }
	push(alice, fixedOp(91, model.OpCreate, idKept, "note", note("Kept"), 0))
	push(alice, fixedOp(92, model.OpCreate, idShared, "note", note("Shared"), 0))
	push(bob, model.Op{OpID: opBob, RecordID: idShared, Collection: "note", Kind: model.OpUpdate, Fields: model.Fields{"title": "Bob's title"}, BaseVersion: 1})
	return srv, alice, bob
}

// mixedBatch is one op of every kind of answer, several depending on the
// ones before them in the same batch.
func mixedBatch() []model.Op {
	note := func(title string) model.Fields { return model.Fields{model.MatterField: idMatter, "title": title} }
	inM2 := func(title string) model.Fields { return model.Fields{model.MatterField: idMatter2, "title": title} }
	return []model.Op{
		fixedOp(1, model.OpCreate, idNew, "note", note("New"), 0),                                                                    // applied
		fixedOp(2, model.OpUpdate, idNew, "note", model.Fields{"title": "New, edited"}, 1),                                           // applied on op 1
		fixedOp(3, model.OpUpdate, idShared, "note", model.Fields{"title": "Alice's title"}, 1),                                      // conflict with bob
		fixedOp(4, model.OpUpdate, idShared, "note", model.Fields{"body": "Alice's body"}, 1),                                        // merged
		fixedOp(5, model.OpCreate, model.NewID(), "nosuch", note("x"), 0),                                                            // rejected validation
		fixedOp(6, model.OpCreate, model.NewID(), "note", model.Fields{model.MatterField: idNew}, 0),                                 // rejected not_found
		fixedOp(1, model.OpCreate, idNew, "note", note("New"), 0),                                                                    // replay of op 1
		fixedOp(7, model.OpDelete, idKept, "note", nil, 1),                                                                           // applied
		fixedOp(8, model.OpDelete, idKept, "note", nil, 1),                                                                           // applied, no seq
		fixedOp(9, model.OpUpdate, idKept, "note", model.Fields{"title": "Too late"}, 1),                                             // conflict: deleted
		fixedOp(10, model.OpCreate, idNew, "note", note("Again"), 0),                                                                 // merged: the server had it
		{OpID: opBob, RecordID: idNew, Collection: "note", Kind: model.OpUpdate, Fields: model.Fields{"title": "x"}, BaseVersion: 2}, // bob's op id
		fixedOp(11, model.OpUpdate, idNew, "note", model.Fields{"title": "New, edited"}, 2),                                          // applied, nothing to write
		// A matter made and deleted within the batch: what a note may be
		// put in changes with it.
		fixedOp(12, model.OpCreate, idEarly, "note", inM2("Early"), 0),                                  // rejected not_found: no such matter yet
		fixedOp(13, model.OpCreate, idMatter2, model.MatterCollection, model.Fields{"title": "Two"}, 0), // applied
		fixedOp(14, model.OpCreate, idInM2, "note", inM2("In two"), 0),                                  // applied
		fixedOp(15, model.OpDelete, idInM2, "note", nil, 1),                                             // applied
		fixedOp(16, model.OpDelete, idMatter2, model.MatterCollection, nil, 1),                          // applied: empty
		fixedOp(17, model.OpCreate, idLate, "note", inM2("Late"), 0),                                    // rejected not_found: deleted
	}
}

// comparable drops what differs between two servers given the same
// history: the times.
func comparable(r protocol.OpResult) protocol.OpResult {
	if r.Record != nil {
		rec := *r.Record
		rec.CreatedAt, rec.UpdatedAt = time.Time{}, time.Time{}
		r.Record = &rec
	}
	r.ChangedAt = time.Time{}
	return r
}

func TestBatchEqualsOneByOneSQLite(t *testing.T)   { testBatchEqualsOneByOne(t, startSQLite) }
func TestBatchEqualsOneByOnePostgres(t *testing.T) { testBatchEqualsOneByOne(t, startPostgres) }

// testBatchEqualsOneByOne pushes the same ops to two servers with the same
// history, in one batch and one op per push, and checks that every result,
// record, seq and audit row comes out the same.
func testBatchEqualsOneByOne(t *testing.T, start starter) {
	ctx := context.Background()
	batched, alice1, _ := batchWorld(t, start)
	single, alice2, _ := batchWorld(t, start)
	ops := mixedBatch()
	resp, err := alice1.Push(ctx, ops...)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.OpResult{model.ResultApplied, model.ResultApplied, model.ResultConflict, model.ResultMerged,
		model.ResultRejected, model.ResultRejected, model.ResultApplied, model.ResultApplied, model.ResultApplied,
		model.ResultConflict, model.ResultMerged, model.ResultRejected, model.ResultApplied,
		model.ResultRejected, model.ResultApplied, model.ResultApplied, model.ResultApplied, model.ResultApplied, model.ResultRejected}
	var head int64
	for i, op := range ops {
		got := resp.Results[i]
		if got.Result != want[i] {
			t.Errorf("op %d: %s %s (%s), want %s", i+1, got.Result, got.Code, got.Message, want[i])
		}
		one := alice2.PushOne(t, op)
		if a, b := jsonOf(t, comparable(got)), jsonOf(t, comparable(one)); a != b {
			t.Errorf("op %d in a batch:\n%s\nalone:\n%s", i+1, a, b)
		}
		if one.Record != nil {
			head = max(head, one.Record.Seq)
		}
	}
	if resp.Head != head {
		t.Errorf("batch head = %d, want %d", resp.Head, head)
	}
	// The same records at the same seqs, and intact audit chains of the
	// same length.
	pull := func(c *servertest.Client) string {
		pages, err := c.PullAll(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var recs []protocol.OpResult
		for _, p := range pages {
			for _, r := range p.Records {
				recs = append(recs, comparable(protocol.OpResult{Record: &r}))
			}
		}
		return jsonOf(t, recs)
	}
	if a, b := pull(alice1), pull(alice2); a != b {
		t.Errorf("records after the batch:\n%s\nafter one op per push:\n%s", a, b)
	}
	for _, srv := range []*servertest.Server{batched, single} {
		rep, err := srv.VerifyAudit(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("audit: %+v %v", rep, err)
		}
	}
	a, _ := batched.VerifyAudit(ctx)
	b, _ := single.VerifyAudit(ctx)
	if a.Rows != b.Rows {
		t.Errorf("audit rows: %d after the batch, %d after one op per push", a.Rows, b.Rows)
	}
}
