package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"casefile/localdb"
	"casefile/model"
)

// smallExportPages makes h's exports read size records a page and call
// between after each page they read.
func smallExportPages(h *harness, size int, between func()) {
	h.hooks = testHooks{exportPage: size, afterExportPage: between}
}

// importNotes puts n notes of a new matter into db and returns the matter.
func importNotes(t *testing.T, db *localdb.DB, n int) string {
	t.Helper()
	ctx := context.Background()
	m, err := db.Create(ctx, "matter", "", model.Fields{"title": "Smith v Jones"})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]localdb.ImportItem, n)
	for i := range items {
		items[i].Fields = model.Fields{"matter_id": m.ID, "title": fmt.Sprintf("Note %d", i)}
	}
	if err := db.Import(ctx, "note", items); err != nil {
		t.Fatal(err)
	}
	// A search catches up the search backlog (the matter's entry) now:
	// otherwise this handle's indexer commits it 50 ms later, and an
	// export that sees a commit under it starts again.
	if _, err := db.Search(ctx, "Smith", 1); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// listedIDs returns the ids of a collection's live records in List's order.
func listedIDs(t *testing.T, db *localdb.DB, collection string) []string {
	t.Helper()
	recs, err := db.List(context.Background(), localdb.ListQuery{Collection: collection})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

// jsonlIDs returns the ids of the records of a JSON Lines export, in order.
func jsonlIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r model.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// A collection of several pages, the last one full or partial, exports
// every record once, in the order of casefile list, as JSON Lines and as
// CSV.
func TestExportPagesEveryRecordOnce(t *testing.T) {
	t.Parallel()
	for _, n := range []int{9, 11} {
		t.Run(fmt.Sprint(n, " notes"), func(t *testing.T) {
			h := newHarness(t)
			db := h.db()
			importNotes(t, db, n)
			want := listedIDs(t, db, "note")
			pages := 0
			smallExportPages(h, 3, func() { pages++ })

			if got := jsonlIDs(t, h.ok("export", "note")); !slices.Equal(got, want) {
				t.Errorf("jsonl export:\n got %v\nwant %v", got, want)
			}
			if want := n/3 + 1; pages != want {
				t.Errorf("the export read %d pages, want %d", pages, want)
			}
			rows, err := csv.NewReader(strings.NewReader(h.ok("export", "note", "--format", "csv"))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows[1:] {
				got = append(got, row[0])
			}
			if !slices.Equal(got, want) {
				t.Errorf("csv export:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// Between pages, another connection deletes a record already read, makes
// one not yet read the newest, and adds one: reading on from the last
// record read, no record left unchanged is skipped or written twice, even
// before export starts over (which it then does, to write the end state).
func TestExportPagesSurviveWritesBetweenPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := h.db()
	matter := importNotes(t, other, 10)
	ctx := context.Background()
	changed := map[string]bool{}
	var writes []func() // one after each page, while they last
	pages := 0
	smallExportPages(h, 3, func() {
		if pages++; pages <= len(writes) {
			writes[pages-1]()
		}
	})
	// writesAt queues the three writes against the notes as listed now.
	writesAt := func(list []string) {
		pages = 0
		writes = []func(){
			func() {
				if err := other.Delete(ctx, list[0]); err != nil {
					t.Error(err)
				}
				changed[list[0]] = true
			},
			func() {
				last := list[len(list)-1]
				if _, err := other.Update(ctx, last, model.Fields{"status": "open"}); err != nil {
					t.Error(err)
				}
				changed[last] = true
			},
			func() {
				r, err := other.Create(ctx, "note", "", model.Fields{"matter_id": matter, "title": "Late"})
				if err != nil {
					t.Error(err)
				}
				changed[r.ID] = true
			},
		}
	}

	// One pass, as a single try of export reads it.
	before := listedIDs(t, other, "note")
	writesAt(before)
	var read []string
	err := eachRecord(ctx, &Env{hooks: h.hooks}, other, "note", func(r model.Record) error {
		read = append(read, r.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 3 {
		t.Fatalf("%d writes happened between pages, want 3", len(changed))
	}
	seen := map[string]int{}
	for _, id := range read {
		if seen[id]++; seen[id] > 1 {
			t.Errorf("note %s read twice", id)
		}
	}
	for _, id := range before {
		if !changed[id] && seen[id] != 1 {
			t.Errorf("unchanged note %s read %d times", id, seen[id])
		}
	}

	// The whole command: the same writes make it start over, and it
	// writes the notes as they are at the end, each once.
	writesAt(listedIDs(t, other, "note"))
	got := jsonlIDs(t, h.ok("export", "note"))
	if want := listedIDs(t, other, "note"); !slices.Equal(got, want) {
		t.Errorf("export:\n got %v\nwant %v", got, want)
	}
	if pages <= 4 {
		t.Errorf("the export did not start over: %d pages", pages)
	}
}
