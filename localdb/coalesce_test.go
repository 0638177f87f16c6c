package localdb

import (
	"errors"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// Several edits before a push become one op with every field, the latest
// values and the first base of each field.
func TestCoalescingKeepsEveryFieldAndTheFirstBase(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 3, model.Fields{"title": "A", "status": "draft", "body": "b0"})
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	mustUpdate(t, db, id, model.Fields{"status": "open"})
	mustUpdate(t, db, id, model.Fields{"title": "C", "body": nil})
	mustUpdate(t, db, id, model.Fields{"tags": []any{"t"}})
	ops := opsOf(t, db, id)
	if len(ops) != 1 {
		t.Fatalf("want one coalesced op, got %d", len(ops))
	}
	op := ops[0]
	want := model.Fields{"title": "C", "status": "open", "body": nil, "tags": []string{"t"}}
	if len(op.Fields) != len(want) {
		t.Fatalf("op fields %v, want %v", op.Fields, want)
	}
	for k, v := range want {
		if got, ok := op.Fields[k]; !ok || !model.Equal(got, v) {
			t.Fatalf("op field %s = %v, want %v", k, got, v)
		}
	}
	if op.BaseVersion != 3 {
		t.Fatalf("base version %d, want the first (3)", op.BaseVersion)
	}
	row, err := db.getOp(bg, db.r, op.OpID)
	if err != nil {
		t.Fatal(err)
	}
	wantBase := model.Fields{"title": "A", "status": "draft", "body": "b0", "tags": nil}
	for k, v := range wantBase {
		if got, ok := row.baseValues[k]; !ok || !model.Equal(got, v) {
			t.Fatalf("base value of %s = %v, want the first %v", k, got, v)
		}
	}
	r := mustGet(t, db, id)
	if r.Fields["title"] != "C" || r.Fields["body"] != nil || r.Fields["status"] != "open" {
		t.Fatalf("record shows %v", r.Fields)
	}
}

func TestCreateThenUpdateIsOneCreate(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A", "body": "x"})
	mustUpdate(t, db, n.ID, model.Fields{"status": "open", "body": nil})
	ops := opsOf(t, db, n.ID)
	if len(ops) != 1 || ops[0].Kind != model.OpCreate {
		t.Fatalf("ops %+v", ops)
	}
	if ops[0].Fields["status"] != "open" || ops[0].Fields["title"] != "A" {
		t.Fatalf("create fields %v", ops[0].Fields)
	}
	if _, ok := ops[0].Fields["body"]; ok {
		t.Fatalf("a cleared field stays in the create: %v", ops[0].Fields)
	}
}

func TestDeleteOfNeverSentCreateRemovesBoth(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	mustUpdate(t, db, n.ID, model.Fields{"title": "B"})
	if err := db.Delete(bg, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, n.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record still there: %v", err)
	}
	if ops := opsOf(t, db, n.ID); len(ops) != 0 {
		t.Fatalf("ops left: %+v", ops)
	}
	j := journalOf(t, db, n.ID)
	if len(j) != 3 || j[0].Kind != "delete" {
		t.Fatalf("the journal must keep create, update and delete: %+v", j)
	}
}

func TestUpdateThenDeleteIsOneDelete(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 4, model.Fields{"title": "A"})
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, db, id)
	if len(ops) != 1 || ops[0].Kind != model.OpDelete || ops[0].BaseVersion != 4 || ops[0].Fields != nil {
		t.Fatalf("ops %+v", ops)
	}
}

// Once an op was sent its id is burnt: the server would answer a replay with
// its first answer and lose whatever was folded in. Later edits queue behind.
func TestNoCoalescingIntoASentOp(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	batch, err := db.NextBatch(bg, time.Now(), 10)
	if err != nil || len(batch) != 1 {
		t.Fatalf("batch %v %v", batch, err)
	}
	sent := batch[0]
	mustUpdate(t, db, id, model.Fields{"status": "open"})
	ops := opsOf(t, db, id)
	if len(ops) != 2 || ops[0].OpID != sent.OpID || len(ops[0].Fields) != 1 || ops[1].Fields["status"] != "open" {
		t.Fatalf("an edit was folded into a sent op: %+v", ops)
	}
	// The answer was lost: the op goes back to retrying, still burnt.
	if err := db.MarkRetry(bg, []string{sent.OpID}, "connection reset", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, id, model.Fields{"title": "C"})
	ops = opsOf(t, db, id)
	if len(ops) != 2 || ops[0].Fields["title"] != "B" || ops[1].Fields["title"] != "C" || ops[1].Fields["status"] != "open" {
		t.Fatalf("ops %+v", ops)
	}
	if ops[0].State != OpRetrying || ops[0].Attempts != 1 || ops[0].LastError != "connection reset" {
		t.Fatalf("retried op %+v", ops[0])
	}
	if ops[1].BaseVersion != 1 {
		t.Fatalf("op behind a sent one is based on %d, want 1", ops[1].BaseVersion)
	}
}

// Editing a record whose op the server refused folds the edit into that op
// under a new id, back to pending.
func TestEditFoldsIntoFailedOpWithNewID(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, id, model.Fields{"status": "open"})
	batch, _ := db.NextBatch(bg, time.Now(), 10)
	old := batch[0].OpID
	reject(t, db, old, "validation", "note.status: not allowed now")
	wantState(t, db, id, model.StateFailed)
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	ops := opsOf(t, db, id)
	if len(ops) != 1 {
		t.Fatalf("ops %+v", ops)
	}
	op := ops[0]
	if op.OpID == old || op.State != OpPending || op.Attempts != 0 || op.LastError != "" || op.ErrorCode != "" {
		t.Fatalf("folded op %+v", op)
	}
	if op.Fields["status"] != "open" || op.Fields["title"] != "B" {
		t.Fatalf("folded fields %v", op.Fields)
	}
	wantState(t, db, id, model.StatePending)
	j := journalOf(t, db, id)
	if j[0].Kind != "update" || j[0].OpID != op.OpID {
		t.Fatalf("journal %+v", j[0])
	}
}

func reject(t testing.TB, db *DB, opID string, code protocol.Code, msg string) {
	t.Helper()
	if err := db.ApplyPushResults(bg, []protocol.OpResult{{OpID: opID, Result: model.ResultRejected, Code: code, Message: msg}}); err != nil {
		t.Fatal(err)
	}
}

func TestStateDerivation(t *testing.T) {
	ops := func(states ...OpState) []opRow {
		var out []opRow
		for _, s := range states {
			out = append(out, opRow{state: s})
		}
		return out
	}
	cases := []struct {
		ops      []opRow
		conflict bool
		want     model.SyncState
	}{
		{nil, false, model.StateSynced},
		{ops(OpPending), false, model.StatePending},
		{ops(OpSyncing, OpPending), false, model.StateSyncing},
		{ops(OpPending, OpRetrying, OpSyncing), false, model.StateRetrying},
		{ops(OpRetrying, OpFailed, OpPending), false, model.StateFailed},
		{ops(OpFailed, OpConflict), false, model.StateConflict},
		{ops(OpPending), true, model.StateConflict},
	}
	for _, c := range cases {
		if got := deriveState(c.ops, c.conflict); got != c.want {
			t.Errorf("deriveState(%v, %v) = %s, want %s", c.ops, c.conflict, got, c.want)
		}
	}
}
