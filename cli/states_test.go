package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// dueOps hands every due op to fn with the local database, as the
// syncer's send would.
func (h *harness) dueOps(fn func(ctx context.Context, db *localdb.DB, ops []localdb.OutboxOp) error) {
	h.t.Helper()
	ctx := context.Background()
	db := h.db()
	defer db.Close()
	ops, err := db.NextBatch(ctx, time.Now(), 100)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := fn(ctx, db, ops); err != nil {
		h.t.Fatal(err)
	}
}

// serverAnswers answers every due op with what answer makes of it and of
// its record, through the same local calls the syncer makes.
func (h *harness) serverAnswers(answer func(op localdb.OutboxOp, rec model.Record) protocol.OpResult) {
	h.t.Helper()
	h.dueOps(func(ctx context.Context, db *localdb.DB, ops []localdb.OutboxOp) error {
		var results []protocol.OpResult
		for _, op := range ops {
			rec, err := db.Get(ctx, op.RecordID)
			if err != nil {
				return err
			}
			results = append(results, answer(op, rec))
		}
		return db.ApplyPushResults(ctx, results)
	})
}

// serverAccepts answers every due op as the server would when it applies
// them.
func (h *harness) serverAccepts() {
	h.t.Helper()
	h.serverAnswers(func(op localdb.OutboxOp, rec model.Record) protocol.OpResult {
		srv := &protocol.Record{ID: rec.ID, Collection: rec.Collection, MatterID: rec.MatterID(),
			Version: op.BaseVersion + 1, Seq: 1, Deleted: op.Kind == model.OpDelete, Fields: rec.Fields}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: srv}
	})
}

// sendFails sends every due op and has it fail for a passing reason.
func (h *harness) sendFails(msg string) {
	h.t.Helper()
	h.dueOps(func(ctx context.Context, db *localdb.DB, ops []localdb.OutboxOp) error {
		var ids []string
		for _, op := range ops {
			ids = append(ids, op.OpID)
		}
		return db.MarkRetry(ctx, ids, msg, time.Now().Add(time.Hour))
	})
}

func TestStatesInShowListAndQueue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	matter, note := h.seed()
	h.serverAccepts()

	var recs []model.Record
	h.okJSON(&recs, "list", "note", "--state", "synced", "--json")
	if len(recs) != 1 || recs[0].ID != note || recs[0].Version != 1 {
		t.Fatalf("synced notes = %+v", recs)
	}
	if out := h.ok("show", note); !strings.Contains(out, "state      synced") || !strings.Contains(out, "version    1\n") || strings.Contains(out, "Waiting to sync") {
		t.Fatalf("show of a synced record:\n%s", out)
	}

	// An edit that fails to send: retrying, with the error in plain words.
	h.ok("edit", note, "status=review")
	h.sendFails("The server could not be reached.")
	out := h.ok("show", note)
	for _, want := range []string{"state      retrying", "update (op ", "retrying, sent once", "last error: The server could not be reached."} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out := h.ok("list", "note"); !strings.Contains(out, "retrying") {
		t.Errorf("list lacks the state:\n%s", out)
	}
	var ops []localdb.OutboxOp
	h.okJSON(&ops, "queue", "--json")
	if len(ops) != 1 || ops[0].State != localdb.OpRetrying || ops[0].Attempts != 1 || ops[0].LastError == "" || ops[0].NextAttempt.IsZero() {
		t.Fatalf("queue = %+v", ops)
	}
	if out := h.ok("queue"); !strings.Contains(out, "The server could not be reached.") || !strings.Contains(out, "retrying") {
		t.Errorf("queue table:\n%s", out)
	}

	// Deleting a record the server has leaves a tombstone until it confirms
	// (the matter's note goes with it).
	out = h.ok("rm", matter, "--cascade")
	if !strings.Contains(out, `Deleted matter "Smith v Jones" (saved offline until the server confirms).`) {
		t.Fatalf("rm printed %q", out)
	}
	if out := h.ok("show", matter); !strings.Contains(out, "deleted, saved offline") {
		t.Fatalf("show of a tombstone:\n%s", out)
	}
	r := h.run("rm", matter)
	if r.code != 1 || r.stderr != "casefile rm: record "+matter+" is deleted\n" {
		t.Fatalf("second rm: %+v", r)
	}
}

// TestConflictRefusesEdits: a record in conflict waits for review and
// refuses edits and deletes, changing nothing.
func TestConflictRefusesEdits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, note := h.seed()
	h.serverAccepts()
	h.ok("edit", note, "title=Mine")
	h.serverConflicts("title", "Theirs")
	var recs []model.Record
	h.okJSON(&recs, "list", "note", "--state", "conflict", "--json")
	if len(recs) != 1 || recs[0].ID != note {
		t.Fatalf("notes in conflict = %+v", recs)
	}
	before := h.snapshot()
	for _, args := range [][]string{{"edit", note, "title=Again"}, {"rm", note}} {
		r := h.run(args...)
		want := "casefile " + args[0] + ": record " + note + " has a conflict waiting for review; resolve it first (casefile conflicts)\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("%s of a record in conflict: exit %d, stderr %q", args[0], r.code, r.stderr)
		}
	}
	if h.snapshot() != before {
		t.Fatal("a refused edit changed the database")
	}
	if out := h.ok("show", note); !strings.Contains(out, "state      conflict") {
		t.Fatalf("show of a record in conflict:\n%s", out)
	}
}

// serverConflicts answers every due update as a conflict over one field
// the server changed to theirs.
func (h *harness) serverConflicts(field, theirs string) {
	h.t.Helper()
	h.serverAnswers(func(op localdb.OutboxOp, rec model.Record) protocol.OpResult {
		fields := rec.Fields.Clone()
		fields[field] = theirs
		srv := &protocol.Record{ID: rec.ID, Collection: rec.Collection, MatterID: rec.MatterID(),
			Version: op.BaseVersion + 1, Seq: 2, Fields: fields}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: srv,
			ConflictFields: []string{field}, Message: "The record changed on the server since your version."}
	})
}
