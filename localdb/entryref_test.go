package localdb

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// scalar is the one value query reads from the file, as written.
func scalar[T any](t *testing.T, db *DB, query string, args ...any) T {
	t.Helper()
	var v T
	if err := db.w.QueryRowContext(bg, query, args...).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// storedFields is a record's fields column as the file holds it.
func storedFields(t *testing.T, db *DB, id string) string {
	return scalar[string](t, db, "SELECT CAST(fields AS TEXT) FROM records WHERE id = ?", id)
}

// createEntry is the seq of the journal entry of a record's create.
func createEntry(t *testing.T, db *DB, id string) int64 {
	return scalar[int64](t, db, "SELECT seq FROM journal WHERE record_id = ? AND op_id <> '' ORDER BY seq LIMIT 1", id)
}

// sqlTitle reads a record's title through sqlRecordFields, as the files
// and transfers queries read fields.
func sqlTitle(t *testing.T, db *DB, id string) string {
	t.Helper()
	var title sql.NullString
	if err := db.r.QueryRowContext(bg, "SELECT json_extract("+db.sqlRecordFields("r", "fields")+", '$.title') FROM records r WHERE r.id = ?", id).Scan(&title); err != nil {
		t.Fatal(err)
	}
	return title.String
}

// A new record keeps one copy of its values, in its create's journal
// entry: created one at a time or imported many to a statement, its fields
// refer to that entry, and every read (get, list, search, SQL) sees the
// values. An edit gives it a copy of its own; the entry keeps the values
// created. A push answer with the same values keeps the reference, one
// with others replaces it.
func TestNewRecordKeepsOneCopy(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := syncedMatter(t, db)
		one := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "fence line"}).ID
		items := make([]ImportItem, 40)
		for i := range items {
			items[i] = ImportItem{Fields: model.Fields{"matter_id": m, "title": fmt.Sprintf("imported %d", i)}}
		}
		if err := db.Import(bg, "note", items); err != nil {
			t.Fatal(err)
		}
		notes, err := db.List(bg, ListQuery{Collection: "note"})
		if err != nil || len(notes) != 41 {
			t.Fatalf("listed %d notes, %v", len(notes), err)
		}
		for _, n := range notes {
			want := fmt.Sprintf("%s%d", entryRef, createEntry(t, db, n.ID))
			if got := storedFields(t, db, n.ID); got != want {
				t.Fatalf("note %v holds %q, want the reference %q", n.Fields["title"], got, want)
			}
			if got := sqlTitle(t, db, n.ID); got != n.Fields["title"] {
				t.Fatalf("SQL reads %q of %q", got, n.Fields["title"])
			}
		}
		if got := mustGet(t, db, one).Fields["title"]; got != "fence line" {
			t.Fatalf("get: %v", got)
		}
		if hits, err := db.Search(bg, "fence", 5); err != nil || len(hits) != 1 || hits[0].Fields["title"] != "fence line" {
			t.Fatalf("search: %v, %v", hits, err)
		}

		// The push answer of one create with its own values keeps the
		// reference; one the server changed replaces it.
		sent, err := db.NextBatch(bg, time.Now(), 2)
		if err != nil || len(sent) != 2 {
			t.Fatalf("took %d ops, %v", len(sent), err)
		}
		same, changed := sent[0], sent[1]
		answers := []protocol.OpResult{
			{OpID: same.OpID, Result: model.ResultApplied, Record: ptr(serverRecord(same.RecordID, "note", m, 1, same.Fields))},
			{OpID: changed.OpID, Result: model.ResultMerged, Record: ptr(serverRecord(changed.RecordID, "note", m, 2,
				model.Fields{"matter_id": m, "title": changed.Fields["title"], "body": "theirs"}))},
		}
		if _, err := db.ApplyPushResultsAndAdvance(bg, nil, answers, 0, 0); err != nil {
			t.Fatal(err)
		}
		if got := storedFields(t, db, same.RecordID); !strings.HasPrefix(got, entryRef) {
			t.Errorf("an answer with the same values replaced the reference with %q", got)
		}
		if r := mustGet(t, db, same.RecordID); r.State != model.StateSynced || r.Fields["title"] != same.Fields["title"] {
			t.Errorf("after its answer: %+v", r)
		}
		if got := storedFields(t, db, changed.RecordID); strings.HasPrefix(got, entryRef) {
			t.Errorf("an answer with other values kept the reference %q", got)
		}
		if r := mustGet(t, db, changed.RecordID); r.Fields["body"] != "theirs" {
			t.Errorf("after a merged answer: %+v", r.Fields)
		}

		// An edit gives the record a copy; its create's entry keeps
		// the values it was created with.
		mustUpdate(t, db, one, model.Fields{"title": "fence line, north"})
		if got := storedFields(t, db, one); strings.HasPrefix(got, entryRef) {
			t.Fatalf("an edited record still refers to its create: %q", got)
		}
		if got := mustGet(t, db, one).Fields["title"]; got != "fence line, north" {
			t.Fatalf("after the edit: %v", got)
		}
		if got := sqlTitle(t, db, one); got != "fence line, north" {
			t.Fatalf("SQL after the edit: %q", got)
		}
		j := journalOf(t, db, one)
		if created := j[len(j)-1]; created.Kind != JournalCreate || created.After["title"] != "fence line" {
			t.Fatalf("the create's entry now holds %+v", created)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// A reference is read only as the record's own create: pointed at
// another record's entry, a sealed record fails its integrity check; at
// no entry, every read of it fails and says why.
func TestRecordEntryRefChecked(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := mustMatter(t, db, "m")
		a := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "a"}).ID
		b := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "b"}).ID
		setRef := func(seq int64) {
			t.Helper()
			if _, err := db.w.ExecContext(bg, "UPDATE records SET fields = ? WHERE id = ?", fmt.Sprintf("%s%d", entryRef, seq), a); err != nil {
				t.Fatal(err)
			}
		}
		setRef(createEntry(t, db, b))
		if _, err := db.Get(bg, a); db.sealer != nil && !errors.Is(err, ErrUnsealed) {
			t.Errorf("a reference to another record's entry: %v, want ErrUnsealed", err)
		}
		setRef(1 << 40)
		if _, err := db.Get(bg, a); !errors.Is(err, errNoRecordEntry) {
			t.Errorf("a reference to no entry: %v", err)
		}
		if _, err := db.List(bg, ListQuery{Collection: "note"}); !errors.Is(err, errNoRecordEntry) {
			t.Errorf("list with a reference to no entry: %v", err)
		}
	})
}
