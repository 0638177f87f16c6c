package localdb

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"casefile/internal/racetest"
	"casefile/model"
)

// Migration 0017 lets the full-text index pile up 16 segments of a size
// before merging them, instead of FTS5's 4. Two databases given the same
// writes in many small transactions, one before the migration and one
// after, end with differently merged indexes, and every search and every
// text-filtered list and count answers the same in both, plain and
// encrypted; the older database, reopened, passes through the migration
// and still answers the same.
func TestFTSAutomergeKeepsSearchResults(t *testing.T) {
	racetest.Plain(t)
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	before, upgrade := upgradeFrom(t, migs, 17)
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(t *testing.T) {
			var opts []Option
			if sealed {
				opts = append(opts, WithSealer(mustKeys(t)))
			}
			openWith := func(path string, migs []migration) *DB {
				o := options{migrations: migs, now: stepClock()}
				for _, opt := range opts {
					opt(&o)
				}
				db, err := open(bg, path, testSchema(t), o)
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			oldPath := filepath.Join(t.TempDir(), "casefile.db")
			old := openWith(oldPath, before)
			cur := openWith(filepath.Join(t.TempDir(), "casefile.db"), migs)
			defer cur.Close()
			for _, db := range []*DB{old, cur} {
				writeSearchable(t, db)
			}
			if got := ftsAutomerge(t, old); got != "" {
				t.Fatalf("automerge before 0017: %q", got)
			}
			if got := ftsAutomerge(t, cur); got != "16" {
				t.Fatalf("automerge after 0017: %q, want 16", got)
			}
			// The comparison means something only if the merges differed.
			if o, c := ftsSegments(t, old), ftsSegments(t, cur); o >= c {
				t.Fatalf("segments: %d merging at 4, %d at 16; want more at 16", o, c)
			}
			want := searchAnswers(t, old)
			if got := searchAnswers(t, cur); !slices.Equal(got, want) {
				t.Errorf("answers differ\nautomerge 4:  %q\nautomerge 16: %q", want, got)
			}
			old.Close()
			old = openWith(oldPath, upgrade)
			defer old.Close()
			if got := ftsAutomerge(t, old); got != "16" {
				t.Fatalf("automerge of a migrated database: %q, want 16", got)
			}
			if got := searchAnswers(t, old); !slices.Equal(got, want) {
				t.Errorf("answers differ after the migration\nbefore: %q\nafter:  %q", want, got)
			}
		})
	}
}

// stepClock is a clock that moves one millisecond each time it is read,
// so that two databases given the same writes stamp them alike.
func stepClock() func() time.Time {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		at = at.Add(time.Millisecond)
		return at
	}
}

// searchVocabulary are the words the searchable records are made of:
// few, so that every word is in many records and ranks differ by counts.
var searchVocabulary = []string{"fence", "survey", "witness", "hearing", "invoice", "boundary", "drainage", "costs", "appeal", "Zoë"}

// writeSearchable imports matters in 60 transactions of 10, then edits
// and deletes some of them, bringing the full-text index up to date after
// each: a segment each. (Left to the indexer, which waits for writes to
// pause, the segments a run makes depend on its timing, and on a busy
// machine both databases could end with as few.)
func writeSearchable(t *testing.T, db *DB) {
	t.Helper()
	var ids []string
	for b := range 60 {
		items := make([]ImportItem, 10)
		for i := range items {
			n := b*10 + i
			var desc []string
			for w := range 1 + n%7 {
				desc = append(desc, searchVocabulary[(n*3+w*w)%len(searchVocabulary)])
			}
			items[i] = ImportItem{
				ID: fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", n),
				Fields: model.Fields{"title": fmt.Sprintf("Matter %d %s", n, searchVocabulary[n%len(searchVocabulary)]),
					"description": fmt.Sprint(desc)},
			}
			ids = append(ids, items[i].ID)
		}
		if err := db.Import(bg, "matter", items); err != nil {
			t.Fatal(err)
		}
		caughtUp(t, db)
	}
	for i, id := range ids {
		switch i % 13 {
		case 0:
			mustUpdate(t, db, id, model.Fields{"description": "appeal lodged over the drainage survey"})
			caughtUp(t, db)
		case 5:
			if err := db.Delete(bg, id); err != nil {
				t.Fatal(err)
			}
			caughtUp(t, db)
		}
	}
}

// searchAnswers is what searches of the vocabulary answer: each query's
// search results in order, its text-filtered list and its count.
func searchAnswers(t *testing.T, db *DB) []string {
	t.Helper()
	queries := append(slices.Clone(searchVocabulary), "fence survey", "appeal drainage", "matter 42", "zoe", "nothing")
	var out []string
	for _, q := range queries {
		found, err := db.Search(bg, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := db.List(bg, ListQuery{Collection: "matter", Text: q})
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.Count(bg, ListQuery{Collection: "matter", Text: q})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s: search %v list %v count %d", q, ids(found), ids(listed), n))
	}
	return out
}

// ftsAutomerge is the index's stored automerge setting ("" for FTS5's default).
func ftsAutomerge(t *testing.T, db *DB) string {
	t.Helper()
	var v string
	err := db.r.QueryRowContext(bg, "SELECT coalesce((SELECT v FROM records_fts_config WHERE k = 'automerge'), '')").Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ftsSegments counts the segments of the full-text index: its data rows'
// ids hold the segment id above bit 37 (0 for the structure records).
func ftsSegments(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.r.QueryRowContext(bg, "SELECT count(DISTINCT id >> 37) FROM records_fts_data WHERE id >> 37 > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
