package localdb

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/model"
)

// openCoarseClock opens a database whose clock moves one second every
// third reading, so that records share change times and List's order falls
// back on their ids.
func openCoarseClock(t *testing.T) *DB {
	t.Helper()
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reads := 0
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return start.Add(time.Duration(reads/3) * time.Second)
	}
	db, err := open(bg, filepath.Join(t.TempDir(), "casefile.db"), testSchema(t), options{migrations: migs, now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// seedNotes creates n notes of one matter and returns their ids.
func seedNotes(t *testing.T, db *DB, n int) (matter string, notes []string) {
	t.Helper()
	matter = mustMatter(t, db, "Smith v Jones")
	for i := range n {
		notes = append(notes, mustCreate(t, db, "note", model.Fields{"matter_id": matter, "title": fmt.Sprintf("Note %d", i)}).ID)
	}
	return matter, notes
}

// pageAfter reads a collection a page at a time by key, calling between
// after each page but the last.
func pageAfter(t *testing.T, db *DB, q ListQuery, between func(page int, got []model.Record)) []model.Record {
	t.Helper()
	var all []model.Record
	for page := 1; ; page++ {
		recs, err := db.List(bg, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if len(recs) < q.Limit {
			return all
		}
		if between != nil {
			between(page, all)
		}
		k := KeyOf(recs[len(recs)-1])
		q.After = &k
	}
}

// Pages read by key, joined, are the whole list in its order, ties of
// change time included.
func TestListAfterPagesInOrder(t *testing.T) {
	db := openCoarseClock(t)
	seedNotes(t, db, 23)
	whole, err := db.List(bg, ListQuery{Collection: "note"})
	if err != nil {
		t.Fatal(err)
	}
	ties := 0
	for i := 1; i < len(whole); i++ {
		if whole[i].UpdatedAt.Equal(whole[i-1].UpdatedAt) {
			ties++
		}
	}
	if ties == 0 {
		t.Fatal("no two notes share a change time; the test needs some")
	}
	for _, limit := range []int{1, 4, 23, 50} {
		got := pageAfter(t, db, ListQuery{Collection: "note", Limit: limit}, nil)
		if !slices.Equal(ids(got), ids(whole)) {
			t.Errorf("pages of %d:\n got %v\nwant %v", limit, ids(got), ids(whole))
		}
	}
	// After with no limit is the rest of the list; Count ignores it.
	k := KeyOf(whole[9])
	rest, err := db.List(bg, ListQuery{Collection: "note", After: &k})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rest), ids(whole[10:])) {
		t.Errorf("after the 10th:\n got %v\nwant %v", ids(rest), ids(whole[10:]))
	}
	if n, err := db.Count(bg, ListQuery{Collection: "note", After: &k}); err != nil || n != len(whole) {
		t.Errorf("count = %d, %v; want %d", n, err, len(whole))
	}
}

// Writes between pages, to records already read and to records not yet
// read, never make paging by key skip or repeat a record left unchanged.
// (Paging by offset both repeats and skips records here: a record moved to
// the front moves the ones behind it a place back, a deleted one a place
// forward.)
func TestListAfterSurvivesWritesBetweenPages(t *testing.T) {
	db := openCoarseClock(t)
	matter, notes := seedNotes(t, db, 30)
	before, err := db.List(bg, ListQuery{Collection: "note"})
	if err != nil {
		t.Fatal(err)
	}
	changed := map[string]bool{}
	got := pageAfter(t, db, ListQuery{Collection: "note", Limit: 4}, func(page int, read []model.Record) {
		unread := before[len(before)-1-page].ID // from the end: not read yet
		switch page {
		case 1: // a record already read becomes the newest
			mustUpdate(t, db, read[0].ID, model.Fields{"status": "open"})
			changed[read[0].ID] = true
		case 2: // so does one not read yet
			mustUpdate(t, db, unread, model.Fields{"status": "open"})
			changed[unread] = true
		case 3: // a record already read goes
			if err := db.Delete(bg, read[1].ID); err != nil {
				t.Fatal(err)
			}
			changed[read[1].ID] = true
		case 4: // a record not read yet goes
			if err := db.Delete(bg, unread); err != nil {
				t.Fatal(err)
			}
			changed[unread] = true
		case 5: // a new record comes
			n := mustCreate(t, db, "note", model.Fields{"matter_id": matter, "title": "Late"})
			changed[n.ID] = true
		}
	})
	seen := map[string]int{}
	for _, r := range got {
		seen[r.ID]++
		if seen[r.ID] > 1 {
			t.Errorf("note %s read twice", r.ID)
		}
	}
	if len(changed) != 5 {
		t.Fatalf("only %d writes happened between pages", len(changed))
	}
	for _, id := range notes {
		if !changed[id] && seen[id] != 1 {
			t.Errorf("unchanged note %s read %d times", id, seen[id])
		}
	}
}

// A page after a key starts in its list's index at the key: no sort, no
// walk of the records before it. The indexes hold change times ascending
// and are read backwards, for every list a pane asks for.
func TestListAfterUsesTheListIndex(t *testing.T) {
	db := openTest(t)
	seedNotes(t, db, 50)
	if _, err := db.w.ExecContext(bg, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    ListQuery
		uses string
	}{
		{ListQuery{Collection: "note"}, "USING INDEX records_list (collection=? AND deleted=? AND updated_at<?)"},
		{ListQuery{}, "USING INDEX records_recent (deleted=? AND updated_at<?)"},
		{ListQuery{MatterID: model.NewID()}, "USING INDEX records_matter (matter_id=? AND deleted=? AND updated_at<?)"},
		{ListQuery{State: model.StatePending}, "USING INDEX records_state (state=? AND deleted=? AND updated_at<?)"},
	} {
		k := ListKey{UpdatedAt: time.Now(), ID: model.NewID()}
		c.q.After, c.q.Limit = &k, 10
		query, args, ok, err := db.listQuery(c.q)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		p := queryPlan(t, db.r, query, args...)
		if !strings.Contains(p, c.uses) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%+v: plan: %s; want it %s, with no sort", c.q, p, c.uses)
		}
	}
}
