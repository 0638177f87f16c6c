package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/syncer"
)

func opsByState(t *testing.T, db *localdb.DB) map[localdb.OpState]int {
	t.Helper()
	ops, err := db.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[localdb.OpState]int{}
	for _, op := range ops {
		out[op.State]++
	}
	return out
}

// dueNow reports whether the op of a record may be sent now.
func dueNow(t *testing.T, db *localdb.DB, recordID string) bool {
	t.Helper()
	ops, err := db.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.RecordID == recordID {
			return op.State == localdb.OpPending || !op.NextAttempt.After(time.Now())
		}
	}
	t.Fatalf("no op of %s", recordID)
	return false
}

// selectOp moves the backlog cursor to the op of a record.
func selectOp(t *testing.T, m *Model, recordID string) {
	t.Helper()
	for i, op := range m.backlog.ops {
		if op.RecordID == recordID {
			m.backlog.list.cursor = i
			return
		}
	}
	t.Fatalf("no op of %s in the backlog", recordID)
}

func TestBacklogGroupsAndCountdown(t *testing.T) {
	db := localdbtest.Open(t)
	now := time.Now()
	seedStates(t, db, now.Add(42*time.Second))
	m := newTestModel(t, Options{DB: db, Now: func() time.Time { return now }})
	press(t, m, "3")
	var order []localdb.OpState
	for _, op := range m.backlog.ops {
		if len(order) == 0 || order[len(order)-1] != op.State {
			order = append(order, op.State)
		}
	}
	want := []localdb.OpState{localdb.OpConflict, localdb.OpFailed, localdb.OpRetrying, localdb.OpPending}
	if len(order) != len(want) {
		t.Fatalf("groups %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("groups %v, want %v", order, want)
		}
	}
	mustContain(t, screenText(m), "≠ Conflict (2)", "✗ Failed (1)", "◷ Retrying (1)", "↑ Saved offline (1)",
		"next try in 42 s", "the server could not be reached", "You may not change this matter (read-only access).")
	// The countdown follows the clock.
	now = now.Add(30 * time.Second)
	mustContain(t, screenText(m), "next try in 12 s")
}

// openBacklog shows the backlog over a database seeded with every sync
// state, the retrying op due in an hour.
func openBacklog(t *testing.T) (*localdb.DB, states, *Model) {
	t.Helper()
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Hour))
	m := newTestModel(t, Options{DB: db})
	press(t, m, "3")
	return db, st, m
}

func TestBacklogRetryAndDiscard(t *testing.T) {
	db, st, m := openBacklog(t)

	selectOp(t, m, st.saved.ID)
	press(t, m, "r")
	mustContain(t, screenText(m), "Only failed or retrying changes can be retried; this one is saved offline.")

	selectOp(t, m, st.retry.ID)
	press(t, m, "r")
	if !dueNow(t, db, st.retry.ID) {
		t.Fatal("retry did not make the op due now")
	}
	mustContain(t, screenText(m), "1 change will be sent again now.", "next try now")

	selectOp(t, m, st.failed.ID)
	press(t, m, "x")
	if m.ask == nil {
		t.Fatal("x did not ask before discarding")
	}
	mustContain(t, screenText(m), "Discard your new record of “File the defence”?")
	press(t, m, "n")
	if got := opsByState(t, db); got[localdb.OpFailed] != 1 {
		t.Fatalf("a refused discard changed the outbox: %v", got)
	}
	press(t, m, "x", "y")
	if got := opsByState(t, db); got[localdb.OpFailed] != 0 {
		t.Fatalf("discard left %v", got)
	}
	for _, op := range m.backlog.ops {
		if op.RecordID == st.failed.ID {
			t.Fatal("the discarded op is still listed")
		}
	}
	es, _ := db.Journal(context.Background(), localdb.JournalQuery{RecordID: st.failed.ID})
	if len(es) == 0 || es[0].Kind != "discard" {
		t.Fatal("the journal does not keep the discarded op")
	}
}

func TestBacklogRetryAll(t *testing.T) {
	db, _, m := openBacklog(t)
	press(t, m, "R")
	got := opsByState(t, db)
	if got[localdb.OpFailed] != 0 || got[localdb.OpPending] != 2 {
		t.Fatalf("retry all left %v", got)
	}
	if !dueNow(t, db, m.backlog.ops[len(m.backlog.ops)-1].RecordID) {
		t.Fatal("retry all did not make the retrying op due now")
	}
	mustContain(t, screenText(m), "2 changes will be sent again now.")
}

func TestBacklogOpenConflictGoesToReview(t *testing.T) {
	_, st, m := openBacklog(t)
	selectOp(t, m, st.conflict.ID)
	press(t, m, "enter")
	if m.screen != screenConflicts || m.conflicts.list[m.conflicts.sel].RecordID != st.conflict.ID {
		t.Fatal("enter on a conflict op did not open its review")
	}
	press(t, m, "3")
	selectOp(t, m, st.saved.ID)
	press(t, m, "enter")
	if m.screen != screenRecords || m.detail == nil || m.detail.rec.State != model.StatePending {
		t.Fatal("enter on a saved op did not open its record")
	}
}

func TestBacklogListsAWindowOfEachGroupAndCountsTheRest(t *testing.T) {
	db := localdbtest.Open(t)
	now := time.Now()
	seedStates(t, db, now.Add(42*time.Second))
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Import"})
	items := make([]localdb.ImportItem, maxPerGroup+20)
	for i := range items {
		items[i].Fields = model.Fields{"matter_id": mt.ID, "title": fmt.Sprintf("Imported %03d", i)}
	}
	if err := db.Import(context.Background(), "note", items); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, Options{DB: db, Now: func() time.Time { return now }})
	press(t, m, "3")
	pending := maxPerGroup + 20 + 2 // the import, the seed's saved note and the new matter
	if got := m.backlog.lay.counts[localdb.OpPending]; got != pending {
		t.Fatalf("saved-offline count %d, want %d", got, pending)
	}
	listed := 0
	for _, op := range m.backlog.ops {
		if op.State == localdb.OpPending {
			listed++
		}
	}
	if listed != maxPerGroup {
		t.Fatalf("%d saved-offline ops listed, want the first %d", listed, maxPerGroup)
	}
	// The small groups are whole, and above the long one, which says how
	// many it holds and, after its last listed op, how many more wait.
	mustContain(t, screenText(m), "≠ Conflict (2)", "✗ Failed (1)", "◷ Retrying (1)", "↑ Saved offline (522)")
	mustNotContain(t, screenText(m), "more; they are sent")
	for range maxPerGroup / 10 {
		press(t, m, "pgdown")
	}
	mustContain(t, screenText(m), "▸ New note “Imported 497”", "… and 22 more; they are sent in order with the next syncs.")
	// Queue order: the matter created first, then the seed's note, then the import.
	last := m.backlog.ops[len(m.backlog.ops)-1]
	if last.State != localdb.OpPending || m.backlog.title(last) != fmt.Sprintf("Imported %03d", maxPerGroup-3) {
		t.Fatalf("the last listed op is %q (%s)", m.backlog.title(last), last.State)
	}
}

// A retry that is due says "now" only while the server can answer: while
// it is out of reach the backlog says what the retry waits for.
func TestBacklogNextTryHonestWhileOffline(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, fixedNow.Add(-time.Minute))
	m := newTestModel(t, Options{DB: db})
	press(t, m, "3")
	mustContain(t, screenText(m), "next try now")
	drain(t, m, m.onSync(syncer.Event{Kind: syncer.EventConnectivity, Connectivity: syncer.Offline}))
	s := screenText(m)
	mustContain(t, s, "next try when the server can be reached")
	mustNotContain(t, s, "next try now")
	drain(t, m, m.onSync(syncer.Event{Kind: syncer.EventConnectivity, Connectivity: syncer.Online}))
	mustContain(t, screenText(m), "next try now")
}
