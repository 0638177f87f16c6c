package localdb

import (
	"testing"

	"casefile/model"
)

// TestListSortedByFieldUsesInstantsAndWindows sorts hearings by when they
// start — by instant, not by the text of the offset — and
// windows the sorted list; FilteredCounts counts under the filters.
func TestListSortedByFieldUsesInstantsAndWindows(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith v Jones")
	late := mustCreate(t, db, "hearing", model.Fields{"matter_id": m, "title": "b", "starts_at": "2026-12-15T08:00:00-05:00"}) // 13:00Z
	early := mustCreate(t, db, "hearing", model.Fields{"matter_id": m, "title": "c", "starts_at": "2026-12-15T10:00:00Z"})
	mid := mustCreate(t, db, "hearing", model.Fields{"matter_id": m, "title": "a", "starts_at": "2026-12-15T12:00:00+01:00"}) // 11:00Z
	ids := func(q ListQuery) []string {
		t.Helper()
		recs, err := db.List(bg, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	same := func(got []string, want ...string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	q := ListQuery{Collection: "hearing", SortField: "starts_at"}
	if got := ids(q); !same(got, early.ID, mid.ID, late.ID) {
		t.Fatalf("by start: %v", got)
	}
	q.SortDesc = true
	if got := ids(q); !same(got, late.ID, mid.ID, early.ID) {
		t.Fatalf("by start, latest first: %v", got)
	}
	q.Offset, q.Limit = 1, 1
	if got := ids(q); !same(got, mid.ID) {
		t.Fatalf("a window of the sorted list: %v", got)
	}
	if _, err := db.List(bg, ListQuery{Collection: "hearing", SortField: "nosuch"}); err == nil {
		t.Fatal("a sort by an unknown field was accepted")
	}
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "hearing notes"})
	other := mustMatter(t, db, "Other")
	mustCreate(t, db, "note", model.Fields{"matter_id": other, "title": "elsewhere"})
	c, err := db.FilteredCounts(bg, ListQuery{MatterID: m})
	if err != nil || c["hearing"] != 3 || c["note"] != 1 || c["matter"] != 1 {
		t.Fatalf("counts in the matter: %v %v", c, err)
	}
	c, err = db.FilteredCounts(bg, ListQuery{Text: "elsewhere"})
	if err != nil || c["note"] != 1 || c["hearing"] != 0 {
		t.Fatalf("counts matching text: %v %v", c, err)
	}
}
