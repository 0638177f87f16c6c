package localdb

import (
	"errors"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

func nextBatch(t testing.TB, db *DB, limit int) []OutboxOp {
	t.Helper()
	b, err := db.NextBatch(bg, time.Now(), limit)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func answer(t testing.TB, db *DB, results ...protocol.OpResult) {
	t.Helper()
	if err := db.ApplyPushResults(bg, results); err != nil {
		t.Fatal(err)
	}
}

func TestNextBatchOnePerRecordOldestFirst(t *testing.T) {
	db, m := openWithMatter(t)
	a := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	b := syncedNote(t, db, m, 1, model.Fields{"title": "B"})
	mustUpdate(t, db, a, model.Fields{"title": "A1"})
	mustUpdate(t, db, b, model.Fields{"title": "B1"})
	first := nextBatch(t, db, 10)
	if len(first) != 2 || first[0].RecordID != a || first[1].RecordID != b {
		t.Fatalf("first batch %+v", first)
	}
	for _, o := range first {
		if o.State != OpSyncing || o.Attempts != 1 {
			t.Fatalf("handed-out op %+v", o)
		}
	}
	wantState(t, db, a, model.StateSyncing)
	mustUpdate(t, db, a, model.Fields{"title": "A2"})
	if again := nextBatch(t, db, 10); len(again) != 0 {
		t.Fatalf("an op went out while an earlier op of its record is in flight: %+v", again)
	}
	answer(t, db, protocol.OpResult{OpID: first[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: a, Collection: "note", Version: 2, Fields: model.Fields{"matter_id": m, "title": "A1"}}})
	next := nextBatch(t, db, 10)
	if len(next) != 1 || next[0].RecordID != a || next[0].Fields["title"] != "A2" {
		t.Fatalf("the queued op of a did not follow: %+v", next)
	}
	// The limit holds.
	for i := 0; i < 5; i++ {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "n"})
	}
	if got := nextBatch(t, db, 3); len(got) != 3 {
		t.Fatalf("limit 3 gave %d", len(got))
	}
}

// A record whose op failed holds back its own later ops, never other records'.
func TestPoisonedOpHoldsBackOnlyItsRecord(t *testing.T) {
	db, m := openWithMatter(t)
	bad := syncedNote(t, db, m, 1, model.Fields{"title": "Bad"})
	good := syncedNote(t, db, m, 1, model.Fields{"title": "Good"})
	mustUpdate(t, db, bad, model.Fields{"status": "open"})
	b := nextBatch(t, db, 10)
	reject(t, db, b[0].OpID, "forbidden", "you may not change this note")
	mustUpdate(t, db, good, model.Fields{"title": "Good 2"})
	got := nextBatch(t, db, 10)
	if len(got) != 1 || got[0].RecordID != good {
		t.Fatalf("batch %+v, want only the good record's op", got)
	}
	wantState(t, db, bad, model.StateFailed)
	// Retrying ops are due only at their time; failed ones never by themselves.
	if err := db.MarkRetry(bg, []string{got[0].OpID}, "timeout", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantState(t, db, good, model.StateRetrying)
	if again := nextBatch(t, db, 10); len(again) != 0 {
		t.Fatalf("ops went out before they were due: %+v", again)
	}
	later, err := db.NextBatch(bg, time.Now().Add(2*time.Hour), 10)
	if err != nil || len(later) != 1 || later[0].OpID != got[0].OpID || later[0].Attempts != 2 {
		t.Fatalf("due retry: %+v %v", later, err)
	}
}

// Ops queued behind a failed op of the same record wait for it.
func TestOpsBehindAFailedOpWait(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	sent := nextBatch(t, db, 10)[0]
	mustUpdate(t, db, id, model.Fields{"status": "open"}) // queued behind the sent op
	reject(t, db, sent.OpID, "validation", "no")
	if got := nextBatch(t, db, 10); len(got) != 0 {
		t.Fatalf("an op behind a failed op went out: %+v", got)
	}
	r := mustGet(t, db, id)
	if r.Fields["title"] != "A" || r.Fields["status"] != "open" || r.State != model.StateFailed {
		t.Fatalf("record shows %+v; want the server copy plus the unfailed op", r)
	}
}

func TestAppliedRebasesQueuedOps(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	sent := nextBatch(t, db, 10)
	if len(sent) != 1 || sent[0].RecordID != n.ID {
		t.Fatalf("batch %+v", sent)
	}
	mustUpdate(t, db, n.ID, model.Fields{"status": "open"})
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: n.ID, Collection: "note", Version: 1, Fields: model.Fields{"matter_id": m, "title": "A"}}})
	ops := opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].BaseVersion != 1 {
		t.Fatalf("queued op not rebased on the new version: %+v", ops)
	}
	r := mustGet(t, db, n.ID)
	if r.Version != 1 || r.State != model.StatePending || r.Fields["status"] != "open" || r.Fields["title"] != "A" {
		t.Fatalf("record %+v", r)
	}
	sent = nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultMerged, Dropped: []string{"body"},
		Record: &protocol.Record{ID: n.ID, Collection: "note", Version: 3,
			Fields: model.Fields{"matter_id": m, "title": "A", "status": "open", "body": "theirs", "tags": []any{"x"}}}})
	r = mustGet(t, db, n.ID)
	if r.Version != 3 || r.State != model.StateSynced || r.Fields["body"] != "theirs" || !model.Equal(r.Fields["tags"], []string{"x"}) {
		t.Fatalf("merged record %+v", r)
	}
	if len(outbox(t, db)) != 0 {
		t.Fatalf("outbox %+v", outbox(t, db))
	}
	j := journalOf(t, db, n.ID)
	if j[0].Kind != "merged" || !strings.Contains(j[0].Summary, "body") {
		t.Fatalf("journal %+v", j[0])
	}
	// Answers for unknown ops are ignored.
	answer(t, db, protocol.OpResult{OpID: model.NewID(), Result: model.ResultApplied})
}

func TestAcknowledgedDeletePurges(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 2, model.Fields{"title": "A"})
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	sent := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: id, Collection: "note", Version: 3, Deleted: true}})
	if _, err := db.Get(bg, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acknowledged tombstone still here: %v", err)
	}
}

// TestRejectedCreateStaysInSight: a create the server refused stays
// listed, failed, with what was typed (in a list of failed records and
// in a search too), so that the person sees the work and fixes or
// discards it.
func TestRejectedCreateStaysInSight(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Mine"})
	sent := nextBatch(t, db, 10)
	reject(t, db, sent[0].OpID, "validation", "note.title: too rude")
	r := mustGet(t, db, n.ID)
	if r.Deleted || r.State != model.StateFailed || r.Fields["title"] != "Mine" {
		t.Fatalf("rejected create shows %+v", r)
	}
	if c, _ := db.Count(bg, ListQuery{Collection: "note", State: model.StateFailed}); c != 1 {
		t.Fatalf("%d failed notes listed, want the refused one", c)
	}
	if found, err := db.Search(bg, "Mine", -1); err != nil || len(found) != 1 || found[0].ID != n.ID {
		t.Fatalf("search for the refused note: %v, %v", found, err)
	}
	ops := opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].State != OpFailed || ops[0].ErrorCode != "validation" || ops[0].LastError != "note.title: too rude" ||
		ops[0].Fields["title"] != "Mine" {
		t.Fatalf("failed op %+v", ops)
	}
	// Fixing it folds into the failed create, which goes out again under a new id.
	r = mustUpdate(t, db, n.ID, model.Fields{"title": "Polite"})
	if r.Deleted || r.State != model.StatePending || r.Fields["title"] != "Polite" {
		t.Fatalf("fixed record %+v", r)
	}
	ops = opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].OpID == sent[0].OpID {
		t.Fatalf("ops %+v", ops)
	}
}

func TestRejectedUpdateShowsServerCopy(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Server"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	reject(t, db, nextBatch(t, db, 10)[0].OpID, "forbidden", "viewers cannot edit")
	r := mustGet(t, db, id)
	if r.Deleted || r.State != model.StateFailed || r.Fields["title"] != "Server" {
		t.Fatalf("record %+v", r)
	}
	if j := journalOf(t, db, id); j[0].Kind != "rejected" || !strings.Contains(j[0].Summary, "viewers cannot edit") {
		t.Fatalf("journal %+v", j[0])
	}
}

func conflictOn(t testing.TB, db *DB, op OutboxOp, rec *protocol.Record, fields ...string) {
	t.Helper()
	answer(t, db, protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: rec, ConflictFields: fields})
}

func TestEditConflictAndResolution(t *testing.T) {
	for _, take := range []model.Take{model.TakeMine, model.TakeTheirs} {
		t.Run(string(take), func(t *testing.T) {
			db := openTest(t)
			m := syncedMatter(t, db)
			id := syncedNote(t, db, m, 1, model.Fields{"title": "Base", "body": "b"})
			mustUpdate(t, db, id, model.Fields{"title": "Mine", "status": "open"})
			op := nextBatch(t, db, 10)[0]
			mustUpdate(t, db, id, model.Fields{"tags": []any{"later"}}) // queued behind
			conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
				Fields: model.Fields{"matter_id": m, "title": "Theirs", "body": "b2"}}, "title")
			r := mustGet(t, db, id)
			if r.State != model.StateConflict || r.Version != 2 || r.Fields["title"] != "Mine" || r.Fields["body"] != "b2" {
				t.Fatalf("record in conflict %+v", r)
			}
			if _, err := db.Update(bg, id, model.Fields{"title": "x"}); !errors.Is(err, ErrInConflict) {
				t.Fatalf("edit during conflict: %v", err)
			}
			c, err := db.Conflict(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != model.ConflictEdit || c.OpID != op.OpID || c.BaseVersion != 1 || c.TheirsVersion != 2 ||
				len(c.Fields) != 1 || c.Fields[0] != (model.FieldConflict{Field: "title", Base: "Base", Mine: "Mine", Theirs: "Theirs"}) ||
				c.Mine["status"] != "open" || c.Theirs["title"] != "Theirs" {
				t.Fatalf("conflict %+v", c)
			}
			if st, _ := db.Status(bg); st.Conflicts != 1 || st.Counts[model.StateConflict] != 1 {
				t.Fatalf("status %+v", st)
			}
			r, err = db.Resolve(bg, id, model.Resolution{All: take})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Conflict(bg, id); !errors.Is(err, ErrConflict) {
				t.Fatalf("conflict still open: %v", err)
			}
			ops := opsOf(t, db, id)
			if len(ops) != 2 || ops[0].Seq >= ops[1].Seq || ops[1].Fields["tags"] == nil || ops[1].BaseVersion != 2 {
				t.Fatalf("ops after resolve %+v", ops)
			}
			res := ops[0]
			if res.OpID == op.OpID || res.Kind != model.OpUpdate || res.BaseVersion != 2 || res.State != OpPending {
				t.Fatalf("resolution op %+v", res)
			}
			wantTitle := "Mine"
			if take == model.TakeTheirs {
				wantTitle = "Theirs"
				if _, ok := res.Fields["title"]; ok {
					t.Fatalf("taking theirs must not send the title: %v", res.Fields)
				}
			} else if res.Fields["title"] != "Mine" {
				t.Fatalf("taking mine must send the title: %v", res.Fields)
			}
			if res.Fields["status"] != "open" {
				t.Fatalf("the non-overlapping edit was lost: %v", res.Fields)
			}
			if r.Fields["title"] != wantTitle || r.State != model.StatePending {
				t.Fatalf("resolved record %+v", r)
			}
		})
	}
}

func TestResolutionKeepingTheirsQueuesNothing(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	op := nextBatch(t, db, 10)[0]
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Theirs"}}, "title")
	if _, err := db.Resolve(bg, id, model.Resolution{Fields: map[string]model.Choice{"nope": {Take: model.TakeMine}}}); err == nil {
		t.Fatal("a resolution naming a field not in conflict was accepted")
	}
	r, err := db.Resolve(bg, id, model.Resolution{All: model.TakeTheirs})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != model.StateSynced || r.Fields["title"] != "Theirs" || len(opsOf(t, db, id)) != 0 {
		t.Fatalf("record %+v ops %+v", r, opsOf(t, db, id))
	}
	if _, err := db.Resolve(bg, id, model.Resolution{All: model.TakeTheirs}); !errors.Is(err, ErrConflict) {
		t.Fatalf("resolving twice: %v", err)
	}
}

func TestEditDeletedConflictRestores(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base", "body": "keep me"})
	mustUpdate(t, db, id, model.Fields{"status": "open"})
	op := nextBatch(t, db, 10)[0]
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2, Deleted: true})
	c, err := db.Conflict(bg, id)
	if err != nil || c.Kind != model.ConflictEditDeleted || c.TheirsVersion != 2 {
		t.Fatalf("conflict %+v %v", c, err)
	}
	if r := mustGet(t, db, id); !r.Deleted || r.State != model.StateConflict {
		t.Fatalf("record %+v", r)
	}
	r, err := db.Resolve(bg, id, model.Resolution{All: model.TakeMine})
	if err != nil {
		t.Fatal(err)
	}
	if r.Deleted || r.Fields["body"] != "keep me" || r.Fields["status"] != "open" || r.Fields["title"] != "Base" {
		t.Fatalf("restored record %+v", r)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate || ops[0].BaseVersion != 2 || ops[0].Fields["matter_id"] != m {
		t.Fatalf("restore op %+v", ops)
	}
}

func TestDeleteEditConflict(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base"})
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	op := nextBatch(t, db, 10)[0]
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Changed"}}, "title")
	c, err := db.Conflict(bg, id)
	if err != nil || c.Kind != model.ConflictDeleteEdit || len(c.Fields) != 1 || c.Fields[0].Theirs != "Changed" {
		t.Fatalf("conflict %+v %v", c, err)
	}
	r, err := db.Resolve(bg, id, model.Resolution{All: model.TakeTheirs})
	if err != nil {
		t.Fatal(err)
	}
	if r.Deleted || r.State != model.StateSynced || r.Fields["title"] != "Changed" {
		t.Fatalf("kept record %+v", r)
	}
}

func TestRetryAndDiscard(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Server"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	old := nextBatch(t, db, 10)[0].OpID
	reject(t, db, old, "validation", "no")
	if err := db.RetryOp(bg, old); err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].OpID == old || ops[0].State != OpPending || ops[0].Attempts != 0 {
		t.Fatalf("retried op %+v", ops)
	}
	if r := mustGet(t, db, id); r.Fields["title"] != "Mine" || r.State != model.StatePending {
		t.Fatalf("record %+v", r)
	}
	if j := journalOf(t, db, id); j[0].Kind != "retry" || !strings.Contains(j[0].Summary, old) {
		t.Fatalf("the journal must keep the old id: %+v", j[0])
	}
	if err := db.RetryOp(bg, old); !errors.Is(err, ErrNoOp) {
		t.Fatalf("retry of a burnt id: %v", err)
	}
	sent := nextBatch(t, db, 10)[0]
	if err := db.DiscardOp(bg, sent.OpID); !errors.Is(err, ErrSending) {
		t.Fatalf("discard while sending: %v", err)
	}
	if err := db.MarkRetry(bg, []string{sent.OpID}, "offline", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.RetryAll(bg); err != nil || n != 1 {
		t.Fatalf("retry all: %d %v", n, err)
	}
	if got := nextBatch(t, db, 10); len(got) != 1 || got[0].OpID != sent.OpID {
		t.Fatalf("retried op not due now: %+v", got)
	}
	if err := db.MarkRetry(bg, []string{sent.OpID}, "offline", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.DiscardOp(bg, sent.OpID); err != nil {
		t.Fatal(err)
	}
	r := mustGet(t, db, id)
	if r.Fields["title"] != "Server" || r.State != model.StateSynced {
		t.Fatalf("after discard the record shows %+v", r)
	}
	j := journalOf(t, db, id)
	if j[0].Kind != "discard" || j[0].After["title"] != "Mine" {
		t.Fatalf("the journal must keep the discarded op: %+v", j[0])
	}
	if err := db.DiscardOp(bg, sent.OpID); !errors.Is(err, ErrNoOp) {
		t.Fatalf("discard twice: %v", err)
	}
}

func TestDiscardOfUnsentCreateRemovesRecord(t *testing.T) {
	db, m := openWithMatter(t)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	create := nextBatch(t, db, 10)[0]
	mustUpdate(t, db, n.ID, model.Fields{"title": "B"})
	reject(t, db, create.OpID, "validation", "no")
	if err := db.DiscardOp(bg, create.OpID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record of a discarded create: %v", err)
	}
	if ops := opsOf(t, db, n.ID); len(ops) != 0 {
		t.Fatalf("ops left %+v", ops)
	}
}

// After a merged answer, a later op moves onto the new version only if the
// fields it changes are still as its author saw them; otherwise it would
// silently overwrite another device's change.
func TestRebaseAfterMergeKeepsOtherDevicesChanges(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "T1", "body": "B1", "status": "draft"})
	mustUpdate(t, db, id, model.Fields{"title": "T-mine"})
	sent := nextBatch(t, db, 10)[0]
	mustUpdate(t, db, id, model.Fields{"body": "B-mine"}) // op 2: body, seen as B1
	later := opsOf(t, db, id)[1]
	// The server merged op 1 over another device's body change (v2): v3.
	answer(t, db, protocol.OpResult{OpID: sent.OpID, Result: model.ResultMerged,
		Record: &protocol.Record{ID: id, Collection: "note", Version: 3,
			Fields: model.Fields{"matter_id": m, "title": "T-mine", "body": "B-theirs", "status": "draft"}}})
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].OpID != later.OpID || ops[0].BaseVersion != 1 {
		t.Fatalf("an op that never saw body B-theirs was moved past it: %+v", ops)
	}
	// An op whose fields are as the server has them does move.
	if err := db.DiscardOp(bg, later.OpID); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, id, model.Fields{"title": "T2"})
	sent = nextBatch(t, db, 10)[0]
	mustUpdate(t, db, id, model.Fields{"status": "open"})
	answer(t, db, protocol.OpResult{OpID: sent.OpID, Result: model.ResultMerged,
		Record: &protocol.Record{ID: id, Collection: "note", Version: 5,
			Fields: model.Fields{"matter_id": m, "title": "T2", "body": "B-other", "status": "draft"}}})
	if ops := opsOf(t, db, id); len(ops) != 1 || ops[0].BaseVersion != 5 {
		t.Fatalf("an op untouched by the other change was not moved: %+v", ops)
	}
	if r := mustGet(t, db, id); r.Fields["body"] != "B-other" || r.Fields["status"] != "open" || r.Fields["title"] != "T2" {
		t.Fatalf("record %+v", r)
	}
}

// Updates queued behind a conflict move onto the reviewed version only if
// the resolution leaves their fields as their author saw them.
func TestResolveRebasesOnlyWhatItsAuthorSaw(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base", "body": "b1", "status": "draft"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	op := nextBatch(t, db, 10)[0]
	mustUpdate(t, db, id, model.Fields{"body": "b-mine"}) // saw b1; the server has b2
	mustUpdate(t, db, id, model.Fields{"status": "open"}) // coalesces: saw draft, as the server has
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Theirs", "body": "b2", "status": "draft"}}, "title")
	if _, err := db.Resolve(bg, id, model.Resolution{All: model.TakeTheirs}); err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].BaseVersion != 1 {
		t.Fatalf("an update that never saw body b2 was moved past it: %+v", ops)
	}
}
