package localdb

import (
	"reflect"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// TestUnclaim: ops a batch handed out and never sent go back to the queue
// exactly as they were (state, attempts, times, their records' states);
// an op answered meanwhile stays answered, a second Unclaim changes
// nothing, and an op no batch handed out is refused.
func TestUnclaim(t *testing.T) {
	db := openTest(t)
	m := syncedMatter(t, db)
	var notes []model.Record
	for _, title := range []string{"one", "two", "three"} {
		notes = append(notes, mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": title}))
	}
	// The first note's op failed once already: it waits as retrying.
	first, _, err := db.NextPushBatch(bg, time.Now(), 1, 0)
	if err != nil || len(first) != 1 {
		t.Fatalf("first batch: %d ops, %v", len(first), err)
	}
	if err := db.MarkRetry(bg, []string{first[0].OpID}, "the link went down", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	before := outbox(t, db)
	states := func() map[string]model.SyncState {
		out := map[string]model.SyncState{}
		for _, n := range notes {
			r, err := db.Get(bg, n.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[n.ID] = r.State
		}
		return out
	}
	stateBefore := states()
	if stateBefore[notes[0].ID] != model.StateRetrying || stateBefore[notes[1].ID] != model.StatePending {
		t.Fatalf("states before the batch: %v", stateBefore)
	}

	batch, _, err := db.NextPushBatch(bg, time.Now(), 10, 0)
	if err != nil || len(batch) != 3 {
		t.Fatalf("batch: %d ops, %v; want 3", len(batch), err)
	}
	// The third op is answered before the others are given back.
	third := batch[2]
	rec := serverRecord(third.RecordID, "note", m, 1, model.Fields{"matter_id": m, "title": "three"})
	rec.Seq = 2
	if err := db.ApplyPushResults(bg, []protocol.OpResult{{OpID: third.OpID, Result: model.ResultApplied, Record: &rec}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Unclaim(bg, batch); err != nil {
		t.Fatal(err)
	}
	after := outbox(t, db)
	if !reflect.DeepEqual(after, before[:2]) {
		t.Fatalf("outbox after Unclaim:\n%+v\nwant as before the batch:\n%+v", after, before[:2])
	}
	stateAfter := states()
	for _, n := range notes[:2] {
		if stateAfter[n.ID] != stateBefore[n.ID] {
			t.Errorf("%s: state %s after Unclaim, %s before the batch", n.Fields["title"], stateAfter[n.ID], stateBefore[n.ID])
		}
	}
	if stateAfter[notes[2].ID] != model.StateSynced {
		t.Errorf("the answered note is %s after Unclaim, want synced", stateAfter[notes[2].ID])
	}

	// Given back once is enough: again changes nothing.
	if err := db.Unclaim(bg, batch); err != nil {
		t.Fatal(err)
	}
	if again := outbox(t, db); !reflect.DeepEqual(again, before[:2]) {
		t.Fatalf("outbox after a second Unclaim:\n%+v\nwant\n%+v", again, before[:2])
	}
	// The queue hands them out again, counting this attempt as the next.
	retaken, _, err := db.NextPushBatch(bg, time.Now(), 10, 0)
	if err != nil || len(retaken) != 2 || retaken[0].Attempts != 2 || retaken[1].Attempts != 1 {
		t.Fatalf("batch after Unclaim: %+v, %v; want the two ops at attempts 2 and 1", retaken, err)
	}
	if err := db.Unclaim(bg, before[:1]); err == nil {
		t.Fatal("Unclaim took an op no batch handed out")
	}
}
