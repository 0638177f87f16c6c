package localdb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// seedBacklog queues ops in every state: 25 saved offline, 3 syncing, 4
// retrying, 2 failed and 1 conflict, interleaved in the queue.
func seedBacklog(t *testing.T, db *DB) {
	t.Helper()
	m := syncedMatter(t, db)
	for i := range 10 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": fmt.Sprintf("early %d", i)})
	}
	sent := nextBatch(t, db, 10) // the ten early notes go out
	reject(t, db, sent[0].OpID, "validation", "note.title: too rude")
	reject(t, db, sent[1].OpID, "forbidden", "viewers cannot edit")
	if err := db.MarkRetry(bg, []string{sent[2].OpID, sent[3].OpID, sent[4].OpID, sent[5].OpID}, "offline", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	answer(t, db, protocol.OpResult{OpID: sent[6].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: sent[6].RecordID, Collection: "note", Version: 1, Fields: sent[6].Fields}})
	// sent[7..9] stay syncing.
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	for i := range 25 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": fmt.Sprintf("late %d", i)})
	}
	var op OutboxOp
	for _, o := range nextBatch(t, db, 1) {
		op = o
	}
	if op.RecordID != id {
		t.Fatalf("the update is not next in the queue: %+v", op)
	}
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Theirs"}}, "title")
}

func TestOutboxCountsAndPagesMatchTheOutbox(t *testing.T) {
	db := openTest(t)
	seedBacklog(t, db)
	all := outbox(t, db)
	want := map[OpState][]OutboxOp{}
	for _, o := range all {
		want[o.State] = append(want[o.State], o)
	}
	counts, err := db.OutboxCounts(bg)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[OpState]int{OpPending: 25, OpSyncing: 3, OpRetrying: 4, OpFailed: 2, OpConflict: 1}
	if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
		t.Fatalf("counts %v, want %v", counts, wantCounts)
	}
	for st, ops := range want {
		// Pages of 7 put together are the state's ops in queue order, whole.
		var got []OutboxOp
		for off := 0; ; off += 7 {
			page, err := db.OutboxPage(bg, st, off, 7)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < 7 {
				break
			}
		}
		if len(got) != len(ops) {
			t.Fatalf("%s: pages hold %d ops, the outbox %d", st, len(got), len(ops))
		}
		for i := range ops {
			if got[i].Seq != ops[i].Seq || got[i].OpID != ops[i].OpID || got[i].State != st ||
				got[i].Attempts != ops[i].Attempts || got[i].LastError != ops[i].LastError ||
				got[i].ErrorCode != ops[i].ErrorCode || !got[i].NextAttempt.Equal(ops[i].NextAttempt) ||
				!model.Equal(got[i].Fields, ops[i].Fields) {
				t.Fatalf("%s op %d: page %+v, outbox %+v", st, i, got[i], ops[i])
			}
		}
	}
	if page, err := db.OutboxPage(bg, OpPending, 100, 10); err != nil || len(page) != 0 {
		t.Fatalf("a page past the end: %d ops, %v", len(page), err)
	}
}

func TestOutboxOfNothing(t *testing.T) {
	db := openTest(t)
	counts, err := db.OutboxCounts(bg)
	if err != nil || len(counts) != 0 {
		t.Fatalf("counts of an empty outbox %v, %v", counts, err)
	}
	page, err := db.OutboxPage(bg, OpFailed, 0, 50)
	if err != nil || len(page) != 0 {
		t.Fatalf("page of an empty outbox %v, %v", page, err)
	}
}

func TestOutboxPageRefusesBadWindows(t *testing.T) {
	db := openTest(t)
	seedBacklog(t, db)
	before := dump(t, db)
	for _, c := range []struct {
		state         OpState
		offset, limit int
	}{
		{"synced", 0, 10}, {"", 0, 10}, {OpPending, -1, 10}, {OpPending, 0, 0}, {OpPending, 0, -5}, {OpPending, 0, maxOutboxPage + 1},
	} {
		_, err := db.OutboxPage(bg, c.state, c.offset, c.limit)
		if err == nil {
			t.Fatalf("OutboxPage(%q, %d, %d) was accepted", c.state, c.offset, c.limit)
		}
		if msg := err.Error(); strings.Count(msg, "\n") > 0 || !strings.HasPrefix(msg, "read outbox page: ") {
			t.Fatalf("error %q is not one sentence", msg)
		}
	}
	if dump(t, db) != before {
		t.Fatal("a refused read changed the database")
	}
}

// The backlog's reads are served by the (state, seq) index: no sort of a
// whole state's ops, no walk of the whole table.
func TestOutboxPageAndCountsUseTheStateIndex(t *testing.T) {
	db := openTest(t)
	seedBacklog(t, db)
	if _, err := db.w.ExecContext(bg, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	plan := func(query string, args ...any) string { return queryPlan(t, db.r, query, args...) }
	page := plan("SELECT "+opCols+" FROM outbox "+outboxPageWhere, OpFailed, 10, 0)
	if !strings.Contains(page, "USING INDEX outbox_state") || strings.Contains(page, "TEMP B-TREE") {
		t.Fatalf("page plan: %s", page)
	}
	counts := plan(outboxCountsQuery)
	if !strings.Contains(counts, "COVERING INDEX") || strings.Contains(counts, "TEMP B-TREE") {
		t.Fatalf("counts plan: %s", counts)
	}
}
