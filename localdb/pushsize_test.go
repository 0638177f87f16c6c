package localdb

import (
	"slices"
	"strings"
	"testing"
	"time"

	"casefile/model"
)

// TestNextPushBatchFitsTheAnswer: with an answer budget, a push batch
// ends before the op whose result (its record whole, as held here, or a
// create's fields) would pass it, and never holds fewer than one op. The
// ops left out stay queued as they were.
func TestNextPushBatchFitsTheAnswer(t *testing.T) {
	db, m := openWithMatter(t)
	body := strings.Repeat("w", 10_000)
	// Queue order: three edits of a title and a delete of notes with
	// large bodies (the ops are small, their results are not), two large
	// creates, one small one.
	for i := range 3 {
		id := syncedNote(t, db, m, 1, model.Fields{"title": "held", "body": body})
		mustUpdate(t, db, id, model.Fields{"title": "edited " + string(rune('a'+i))})
	}
	gone := syncedNote(t, db, m, 1, model.Fields{"title": "gone", "body": body})
	if err := db.Delete(bg, gone); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "new", "body": body})
	}
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "small"})

	// Each large op counts some 10,500 bytes: two fit in 25,000, and the
	// small create beside the two large ones.
	var sizes []int
	var cuts []bool
	for {
		ops, cut, err := db.NextPushBatch(bg, time.Now(), 10, 25_000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			break
		}
		sizes, cuts = append(sizes, len(ops)), append(cuts, cut)
		for _, o := range outbox(t, db) {
			if o.State != OpSyncing && (o.State != OpPending || o.Attempts != 0) {
				t.Fatalf("an op left out of the batch is %s after %d attempts, want pending as queued", o.State, o.Attempts)
			}
		}
	}
	if got, want := sizes, []int{2, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("batches of %v ops, want %v", got, want)
	}
	// The last batch took what was left: it was not cut.
	if got, want := cuts, []bool{true, true, false}; !slices.Equal(got, want) {
		t.Errorf("batches cut by the budget: %v, want %v", got, want)
	}
}

// TestNextPushBatchTakesOneOpPastTheBudget: an op whose result alone
// passes the budget still goes, alone.
func TestNextPushBatchTakesOneOpPastTheBudget(t *testing.T) {
	db, m := openWithMatter(t)
	for range 2 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "new", "body": strings.Repeat("w", 5_000)})
	}
	ops, _, err := db.NextPushBatch(bg, time.Now(), 10, 100)
	if err != nil || len(ops) != 1 {
		t.Fatalf("a batch of %d ops (%v), want 1", len(ops), err)
	}
}

// TestFitAnswerCountsEntryValues: a record whose values are still its
// create's journal entry's counts that entry's text, not the reference.
func TestFitAnswerCountsEntryValues(t *testing.T) {
	db, m := openWithMatter(t)
	rec := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "new", "body": strings.Repeat("w", 5_000)})
	var stored string
	if err := db.w.QueryRowContext(bg, "SELECT fields FROM records WHERE id = ?", rec.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, entryRef) {
		t.Fatalf("a new record holds %.40q, not a reference to its entry: the test proves nothing", stored)
	}
	del := opText{opRow: opRow{Op: model.Op{Kind: model.OpDelete, RecordID: rec.ID}}}
	if got, err := fitAnswer(bg, db.w, []opText{del, del}, 5_000+resultEnvelope); err != nil || len(got) != 1 {
		t.Fatalf("fitAnswer kept %d of 2 deletes of a 5,000-byte record within 5,512 bytes (%v), want 1", len(got), err)
	}
}
