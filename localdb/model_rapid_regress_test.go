package localdb_test

import (
	"testing"
	"time"

	"casefile/assets"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// Histories TestStoreModel found wrong, kept as plain tests.

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The journal tells a user whose matter was revoked to export or discard
// the changes kept as failed; discarding one failed with "no such record"
// because its record had gone with the matter.
func TestRegressDiscardAfterRevokedMatter(t *testing.T) {
	db := localdbtest.Open(t)
	m, n := model.NewID(), model.NewID()
	mustNil(t, db.ApplyPull(ctx, protocol.PullResponse{Cursor: 2, Records: []protocol.Record{
		{ID: m, Collection: "matter", MatterID: m, Version: 1, Seq: 1, Fields: model.Fields{"title": "Smith"}},
		{ID: n, Collection: "note", MatterID: m, Version: 1, Seq: 2, Fields: model.Fields{model.MatterField: m, "title": "A"}},
	}}))
	_, err := db.Update(ctx, n, model.Fields{"title": "B"})
	mustNil(t, err)
	mustNil(t, db.ApplyPull(ctx, protocol.PullResponse{Cursor: 3, DroppedMatters: []string{m}}))
	ops, err := db.Outbox(ctx)
	mustNil(t, err)
	if len(ops) != 1 || ops[0].State != localdb.OpFailed || ops[0].ErrorCode != protocol.CodeAccessRevoked {
		t.Fatalf("outbox %+v, want the edit kept as failed", ops)
	}
	if err := db.DiscardOp(ctx, ops[0].OpID); err != nil {
		t.Fatalf("discard the kept change: %v", err)
	}
	if ops, _ := db.Outbox(ctx); len(ops) != 0 {
		t.Fatalf("outbox %+v after the discard", ops)
	}
}

// An edit queued behind an op in flight was moved onto the version the
// server gave that op after a merged answer, which also held another
// device's change of the same field: sent on that version, the edit would
// overwrite a value its author never saw. The fake server's blind-overwrite
// check catches it; the edit must meet the change as a conflict instead.
func TestRegressNoBlindOverwriteAfterMerge(t *testing.T) {
	db := localdbtest.Open(t)
	s, _ := model.ParseSchema(assets.Schema)
	srv := newFakeServer(s)
	m, n := model.NewID(), model.NewID()
	srv.remoteCreate(m, "matter", model.Fields{"title": "Smith"})
	srv.remoteCreate(n, "note", model.Fields{model.MatterField: m, "title": "A"})
	mustNil(t, db.ApplyPull(ctx, srv.pull(0, 10)))
	_, err := db.Update(ctx, n, model.Fields{"title": "Mine"})
	mustNil(t, err)
	inFlight, err := db.NextBatch(ctx, time.Now(), 10)
	mustNil(t, err)
	_, err = db.Update(ctx, n, model.Fields{"status": "open"}) // seen as empty, queued behind
	mustNil(t, err)
	srv.change(srv.recs[n], model.Fields{"status": "review"}) // another device, v2
	res := srv.push(inFlight[0].Op)                           // merged: v3
	if res.Result != model.ResultMerged {
		t.Fatalf("first op: %+v", res)
	}
	mustNil(t, db.ApplyPushResults(ctx, []protocol.OpResult{res}))
	next, err := db.NextBatch(ctx, time.Now(), 10)
	mustNil(t, err)
	if len(next) != 1 {
		t.Fatalf("batch %+v, want the queued edit", next)
	}
	srv.seen[next[0].OpID] = [2]model.Fields{{"status": nil}, {"status": nil}} // its author saw no status
	mustNil(t, db.ApplyPushResults(ctx, []protocol.OpResult{srv.push(next[0].Op)}))
	if len(srv.blind) > 0 {
		t.Fatalf("lost update: %s", srv.blind[0])
	}
	c, err := db.Conflict(ctx, n)
	if err != nil || c.Kind != model.ConflictEdit || len(c.Fields) != 1 || c.Fields[0].Field != "status" {
		t.Fatalf("conflict %+v, %v; want one on status", c, err)
	}
}

// The fake server restored a record whose tombstone it had compacted at
// version 1, where the server restores it after every version it had
// (server TestRestoreWithStaleBaseAfterCompaction). A device holding a
// later version then took the server's next answers for older news: the
// model, not the device, was wrong. It now keeps a grave of each
// compacted tombstone, as the server does, with the grave's access rule.
func TestRegressFakeServerRestoresAfterTheGrave(t *testing.T) {
	s, _ := model.ParseSchema(assets.Schema)
	srv := newFakeServer(s)
	m, n, hidden, h := model.NewID(), model.NewID(), model.NewID(), model.NewID()
	srv.remoteCreate(m, "matter", model.Fields{"title": "Smith"})
	srv.remoteCreate(n, "note", model.Fields{model.MatterField: m, "title": "A"})
	srv.change(srv.recs[n], model.Fields{"title": "B"})
	srv.change(srv.recs[n], model.Fields{"title": "C"})
	srv.remoteDelete(srv.recs[n]) // version 4
	srv.remoteCreate(hidden, "matter", model.Fields{"title": "Jones"})
	srv.remoteCreate(h, "note", model.Fields{model.MatterField: hidden, "title": "D"})
	srv.remoteDelete(srv.recs[h])
	srv.revoke(hidden)
	srv.compact()
	restore := model.Op{OpID: model.NewID(), RecordID: n, Collection: "note", Kind: model.OpCreate,
		Fields: model.Fields{model.MatterField: m, "title": "C"}, BaseVersion: 2} // stale: the device saw version 2
	if res := srv.push(restore); res.Result != model.ResultApplied || res.Record == nil || res.Record.Version != 5 {
		t.Fatalf("restore after compaction = %+v, want applied at version 5", res)
	}
	steal := model.Op{OpID: model.NewID(), RecordID: h, Collection: "note", Kind: model.OpCreate,
		Fields: model.Fields{model.MatterField: m, "title": "mine"}, BaseVersion: 2}
	if res := srv.push(steal); res.Result != model.ResultRejected || res.Code != protocol.CodeIDConflict {
		t.Fatalf("restore of a compacted record of a matter the user lost = %+v, want rejected id_conflict", res)
	}
}

// A record that left this device with a change unsent (its matter
// revoked) keeps that change queued as failed. A backup imported later
// brings the record back with its create queued behind the change: the
// import wrote it as pending, and Doctor found a record showing a state
// its queue did not have.
func TestRegressImportBehindAChangeKeptFailed(t *testing.T) {
	db := localdbtest.Open(t)
	m1, m2, n := model.NewID(), model.NewID(), model.NewID()
	mustNil(t, db.ApplyPull(ctx, protocol.PullResponse{Cursor: 3, Records: []protocol.Record{
		{ID: m1, Collection: "matter", MatterID: m1, Version: 1, Seq: 1, Fields: model.Fields{"title": "Smith"}},
		{ID: m2, Collection: "matter", MatterID: m2, Version: 1, Seq: 2, Fields: model.Fields{"title": "Jones"}},
		{ID: n, Collection: "note", MatterID: m1, Version: 1, Seq: 3, Fields: model.Fields{model.MatterField: m1, "title": "A"}},
	}}))
	_, err := db.Update(ctx, n, model.Fields{"title": "B"})
	mustNil(t, err)
	mustNil(t, db.ApplyPull(ctx, protocol.PullResponse{Cursor: 4, DroppedMatters: []string{m1}}))
	mustNil(t, db.Import(ctx, "note", []localdb.ImportItem{{ID: n, Fields: model.Fields{model.MatterField: m2, "title": "A"}}}))
	r, err := db.Get(ctx, n)
	mustNil(t, err)
	if r.State != model.StateFailed {
		t.Fatalf("the imported record shows %s, want failed: the change kept failed is queued ahead of its create", r.State)
	}
	ops, err := db.Outbox(ctx)
	mustNil(t, err)
	if len(ops) != 2 || ops[0].State != localdb.OpFailed || ops[1].Kind != model.OpCreate || ops[1].State != localdb.OpPending {
		t.Fatalf("outbox %+v, want the failed edit, then the import's create", ops)
	}
	rep, err := db.Doctor(ctx, false)
	mustNil(t, err)
	if len(rep.Problems) > 0 {
		t.Fatalf("doctor found problems: %q", rep.Problems)
	}
}
