package localdb

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// TestMixedPushAnswersInOneBatch: a batch whose answers take both paths
// (simple acks read once per batch; an ack with a later op to rebase, a
// conflict, a refusal, an acknowledged delete, an unknown op) leaves each
// record as answering it alone would.
func TestMixedPushAnswersInOneBatch(t *testing.T) {
	db, m := openWithMatter(t)
	a := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	b := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "B <&>"})
	c := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "C"})
	d := syncedNote(t, db, m, 2, model.Fields{"title": "D"})
	mustUpdate(t, db, d, model.Fields{"title": "D mine"})
	e := syncedNote(t, db, m, 2, model.Fields{"title": "E"})
	mustUpdate(t, db, e, model.Fields{"title": "E mine"})
	f := syncedNote(t, db, m, 2, model.Fields{"title": "F"})
	if err := db.Delete(bg, f); err != nil {
		t.Fatal(err)
	}
	sent := nextBatch(t, db, 10)
	if len(sent) != 6 {
		t.Fatalf("batch %+v", sent)
	}
	for _, o := range sent {
		wantState(t, db, o.RecordID, model.StateSyncing)
	}
	mustUpdate(t, db, c.ID, model.Fields{"status": "open"}) // queued behind c's create
	op := map[string]string{}
	for _, o := range sent {
		op[o.RecordID] = o.OpID
	}
	rec := func(id string, version int64, fields model.Fields) *protocol.Record {
		r := serverRecord(id, "note", m, version, fields)
		return &r
	}
	answer(t, db,
		protocol.OpResult{OpID: op[a.ID], Result: model.ResultApplied, Record: rec(a.ID, 1, model.Fields{"matter_id": m, "title": "A"})},
		protocol.OpResult{OpID: model.NewID(), Result: model.ResultApplied},
		protocol.OpResult{OpID: op[c.ID], Result: model.ResultApplied, Record: rec(c.ID, 1, model.Fields{"matter_id": m, "title": "C"})},
		protocol.OpResult{OpID: op[d], Result: model.ResultConflict, ConflictFields: []string{"title"},
			Record: rec(d, 3, model.Fields{"matter_id": m, "title": "D theirs"})},
		protocol.OpResult{OpID: op[e], Result: model.ResultRejected, Code: protocol.CodeForbidden, Message: "no"},
		protocol.OpResult{OpID: op[f], Result: model.ResultApplied, Record: &protocol.Record{ID: f, Collection: "note", Version: 3, Deleted: true}},
		protocol.OpResult{OpID: op[b.ID], Result: model.ResultMerged, Dropped: []string{"body"},
			Record: rec(b.ID, 2, model.Fields{"matter_id": m, "title": "B <&>", "body": "theirs", "tags": []any{"x"}})},
	)
	ra := mustGet(t, db, a.ID)
	if ra.Version != 1 || ra.State != model.StateSynced || ra.Fields["title"] != "A" {
		t.Fatalf("a %+v", ra)
	}
	rb := mustGet(t, db, b.ID)
	if rb.Version != 2 || rb.State != model.StateSynced || rb.Fields["body"] != "theirs" || !model.Equal(rb.Fields["tags"], []string{"x"}) {
		t.Fatalf("b %+v", rb)
	}
	if found, err := db.Search(bg, "theirs", 10); err != nil || len(found) != 1 || found[0].ID != b.ID {
		t.Fatalf("search for the merged field: %+v %v", found, err)
	}
	rc := mustGet(t, db, c.ID)
	if rc.Version != 1 || rc.State != model.StatePending || rc.Fields["status"] != "open" {
		t.Fatalf("c %+v", rc)
	}
	if ops := opsOf(t, db, c.ID); len(ops) != 1 || ops[0].BaseVersion != 1 {
		t.Fatalf("c's later op not rebased: %+v", ops)
	}
	wantState(t, db, d, model.StateConflict)
	if _, err := db.Conflict(bg, d); err != nil {
		t.Fatalf("conflict of d: %v", err)
	}
	re := mustGet(t, db, e)
	if re.State != model.StateFailed || re.Fields["title"] != "E" {
		t.Fatalf("e %+v", re)
	}
	if _, err := db.Get(bg, f); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acknowledged delete still here: %v", err)
	}
	for id, want := range map[string]struct {
		kind    JournalKind
		version int64
	}{a.ID: {"applied", 1}, b.ID: {"merged", 2}, c.ID: {"applied", 1}, f: {"applied", 3}} {
		if j := journalOf(t, db, id); len(j) == 0 || j[0].Kind != want.kind || j[0].Version != want.version {
			t.Fatalf("journal of %s: %+v", id, j)
		}
	}
	if n := len(outbox(t, db)); n != 3 { // c's update, d's conflict, e's refusal
		t.Fatalf("outbox holds %d ops", n)
	}
}

// TestRefreshStatesAgreesWithRefreshState: the set-based state of many
// records is the one refreshState derives for each.
func TestRefreshStatesAgreesWithRefreshState(t *testing.T) {
	db, m := openWithMatter(t)
	states := []OpState{OpPending, OpSyncing, OpRetrying, OpFailed, OpConflict}
	var ids []string
	for i, s1 := range states {
		for _, s2 := range states[i:] {
			id := syncedNote(t, db, m, 1, model.Fields{"title": "x"})
			mustUpdate(t, db, id, model.Fields{"title": "y"})
			// Sent once: the delete queues behind it instead of folding in.
			if _, err := db.w.ExecContext(bg, "UPDATE outbox SET attempts = 1 WHERE record_id = ?", id); err != nil {
				t.Fatal(err)
			}
			if err := db.Delete(bg, id); err != nil {
				t.Fatal(err)
			}
			ops := opsOf(t, db, id)
			if len(ops) != 2 {
				t.Fatalf("ops %+v", ops)
			}
			for j, s := range []OpState{s1, s2} {
				if _, err := db.w.ExecContext(bg, "UPDATE outbox SET state = ? WHERE seq = ?", s, ops[j].Seq); err != nil {
					t.Fatal(err)
				}
			}
			ids = append(ids, id)
		}
	}
	synced := syncedNote(t, db, m, 1, model.Fields{"title": "z"})
	withConflict := syncedNote(t, db, m, 1, model.Fields{"title": "w"})
	if _, err := db.w.ExecContext(bg, `INSERT INTO conflicts (record_id, collection, op_id, kind, base_version, theirs_version, fields, created_at)
		VALUES (?, 'note', ?, ?, 1, 2, '[]', 0)`, withConflict, model.NewID(), model.ConflictEdit); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, synced, withConflict)
	tx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := refreshStates(bg, tx, ids); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, id := range ids {
		var s string
		if err := tx.QueryRowContext(bg, "SELECT state FROM records WHERE id = ?", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		got[id] = s
		if _, err := tx.ExecContext(bg, "UPDATE records SET state = 'stale' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		if err := refreshState(bg, tx, id); err != nil {
			t.Fatal(err)
		}
		var want string
		if err := tx.QueryRowContext(bg, "SELECT state FROM records WHERE id = ?", id).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got[id] != want {
			t.Fatalf("record %s: refreshStates %q, refreshState %q", id, got[id], want)
		}
	}
	if got[synced] != string(model.StateSynced) || got[withConflict] != string(model.StateConflict) || got[ids[0]] != string(model.StatePending) {
		t.Fatalf("states %v", got)
	}
}

// TestPullPageHoldingARecordTwice: a page's rows are read once for the
// page, except a record the page holds twice, which the second copy must
// find as the first left it.
func TestPullPageHoldingARecordTwice(t *testing.T) {
	db, m := openWithMatter(t)
	id := model.NewID()
	other := syncedNote(t, db, m, 1, model.Fields{"title": "Other"})
	mustUpdate(t, db, other, model.Fields{"title": "Other, mine"})
	pull(t, db, 5,
		serverRecord(id, "note", m, 2, model.Fields{"matter_id": m, "title": "First"}),
		serverRecord(other, "note", m, 3, model.Fields{"matter_id": m, "title": "Other", "body": "theirs"}),
		serverRecord(id, "note", m, 4, model.Fields{"matter_id": m, "title": "Second"}))
	r := mustGet(t, db, id)
	if r.Version != 4 || r.Fields["title"] != "Second" || r.State != model.StateSynced {
		t.Fatalf("record pulled twice in a page: %+v", r)
	}
	o := mustGet(t, db, other)
	if o.Version != 3 || o.Fields["title"] != "Other, mine" || o.Fields["body"] != "theirs" || o.State != model.StatePending {
		t.Fatalf("record with a queued edit: %+v", o)
	}
	if found, err := db.Search(bg, "Second", 10); err != nil || len(found) != 1 {
		t.Fatalf("search: %+v %v", found, err)
	}
}

// TestAnswersTakeTheFieldsSentWithThem: the answers' transaction takes
// the fields of ops still in flight as NextPushBatch handed them out from
// the ops handed out, for the ops and for the records whose values are
// their create's entry, and reads again those the queue has moved past
// since (put back and handed out again).
func TestAnswersTakeTheFieldsSentWithThem(t *testing.T) {
	db, m := openWithMatter(t)
	if _, err := db.ApplyPushResultsAndAdvance(bg, nil, answerAll(t, db, nextPushBatch(t, db)), 0, 0); err != nil {
		t.Fatal(err) // the matter's create
	}
	a := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	b := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "B"})
	first := nextPushBatch(t, db)
	if err := db.Unclaim(bg, first[1:]); err != nil { // b goes back to the queue
		t.Fatal(err)
	}
	again := nextPushBatch(t, db) // and is handed out again
	if len(first) != 2 || len(again) != 1 || again[0].RecordID != b.ID {
		t.Fatalf("batches %+v, then %+v", first, again)
	}
	tx, err := db.w.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ops, known, err := db.batchOps(bg, tx, []string{first[0].OpID, first[1].OpID}, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || len(known) != 1 || known[ops[0].entry.Int64] != string(first[0].FieldsJSON) {
		t.Fatalf("ops %+v, texts from the batch %v: want only a's taken from it", ops, known)
	}
	recs := map[string]recordRow{}
	if err := db.batchRecords(bg, tx, idList([]string{a.ID, b.ID}), recs, known); err != nil {
		t.Fatal(err)
	}
	if recs[a.ID].fieldsJSON != string(first[0].FieldsJSON) || recs[b.ID].fieldsJSON != string(again[0].FieldsJSON) {
		t.Fatalf("records %+v", recs)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyPushResultsAndAdvance(bg, append(first, again...), answerAll(t, db, append(first[:1], again...)), 0, 0); err != nil {
		t.Fatal(err)
	}
	wantState(t, db, a.ID, model.StateSynced)
	wantState(t, db, b.ID, model.StateSynced)
}

func nextPushBatch(t *testing.T, db *DB) []OutboxOp {
	t.Helper()
	ops, _, err := db.NextPushBatch(bg, time.Now(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// answerAll answers every op as a server applying it at version 1 would.
func answerAll(t *testing.T, db *DB, ops []OutboxOp) []protocol.OpResult {
	t.Helper()
	var out []protocol.OpResult
	for _, o := range ops {
		f, err := decodeFields(sql.NullString{String: string(o.FieldsJSON), Valid: o.FieldsJSON != nil})
		if err != nil {
			t.Fatal(err)
		}
		m := model.MatterOf(o.Collection, o.RecordID, f)
		out = append(out, protocol.OpResult{OpID: o.OpID, Result: model.ResultApplied,
			Record: &protocol.Record{ID: o.RecordID, Collection: o.Collection, MatterID: m, Version: 1, Fields: f}})
	}
	return out
}
