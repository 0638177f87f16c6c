package localdb

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"casefile/model"
)

// withoutIndexer opens a database whose search backlog only searches and
// Close catch up, so that a test can look at it between writes.
func withoutIndexer() Option { return func(o *options) { o.noIndexer = true } }

func openNoIndexer(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(bg, path, testSchema(t), append(testSealing(t), withoutIndexer())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func searchIDs(t testing.TB, db *DB, text string) []string {
	t.Helper()
	got, err := db.Search(bg, text, -1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// A single write (create, edit, delete) writes no full-text segment in its
// own transaction: it puts the record in the search backlog. A search,
// a filtered list and a count right after it still see the write, and
// leave the backlog empty; an import indexes its notes inline.
func TestSingleWritesLeaveTheirSearchEntryToTheBacklog(t *testing.T) {
	db := openNoIndexer(t, filepath.Join(t.TempDir(), "casefile.db"))
	m := mustMatter(t, db, "Smith")
	caughtUp(t, db)
	segments := scalar[int](t, db, "SELECT count(*) FROM records_fts_data")

	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Hearing", "body": "the quokka brief"})
	if got := scalar[int](t, db, "SELECT count(*) FROM records_fts_data"); got != segments {
		t.Fatalf("a create wrote %d full-text rows in its transaction", got-segments)
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != 1 {
		t.Fatalf("backlog holds %d records after a create, want 1", got)
	}
	if got := searchIDs(t, db, "quokka"); !slices.Equal(got, []string{n.ID}) {
		t.Fatalf("search after a create found %v, want %s", got, n.ID)
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != 0 {
		t.Fatalf("backlog holds %d records after a search", got)
	}

	if _, err := db.Update(bg, n.ID, model.Fields{"body": "the wombat brief"}); err != nil {
		t.Fatal(err)
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != 1 {
		t.Fatalf("backlog holds %d records after an edit, want 1", got)
	}
	if got := searchIDs(t, db, "quokka"); len(got) != 0 {
		t.Fatalf("search for the old text found %v after an edit", got)
	}
	if got := searchIDs(t, db, "wombat"); !slices.Equal(got, []string{n.ID}) {
		t.Fatalf("search for the new text found %v, want %s", got, n.ID)
	}

	if _, err := db.Update(bg, n.ID, model.Fields{"body": "the numbat brief"}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Count(bg, ListQuery{Text: "numbat"}); err != nil || got != 1 {
		t.Fatalf("count of the edited text: %d, %v; want 1", got, err)
	}
	if err := db.Delete(bg, n.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.List(bg, ListQuery{Text: "numbat"}); err != nil || len(got) != 0 {
		t.Fatalf("list of a deleted record's text: %v, %v", got, err)
	}

	if err := db.Import(bg, "note", []ImportItem{
		{Fields: model.Fields{"matter_id": m, "title": "Bundle", "body": "imported kakapo"}},
		{Fields: model.Fields{"matter_id": m, "title": "Bundle", "body": "imported kakapo too"}},
	}); err != nil {
		t.Fatal(err)
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != 0 {
		t.Fatalf("an import left %d records in the backlog", got)
	}
	if got := searchIDs(t, db, "kakapo"); len(got) != 2 {
		t.Fatalf("search found %d imported notes, want 2", len(got))
	}
}

// The indexer catches the backlog up by itself once writes pause.
func TestIndexerCatchesUpWhenWritesPause(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith")
	for i := range 5 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Hearing", "body": "bilby " + string(rune('a'+i))})
	}
	deadline := time.Now().Add(10 * time.Second)
	for scalar[int](t, db, "SELECT count(*) FROM search_backlog") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the indexer left the backlog behind for 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Read the index without a search, which would catch up by itself.
	match := db.searchMatch("bilby")
	if got := scalar[int](t, db, "SELECT count(*) FROM records_fts WHERE records_fts MATCH ?", match); got != 5 {
		t.Fatalf("the index holds %d of the 5 notes", got)
	}
}

// The backlog is committed with the write: a crash (the files as a kill
// leaves them) loses no entry, and another process on the same file
// catches up what this one left.
func TestSearchBacklogSurvivesACrashAndServesOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "casefile.db")
	db := openNoIndexer(t, path)
	m := mustMatter(t, db, "Smith")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Hearing", "body": "the quoll brief"})

	other := openNoIndexer(t, path)
	if got := searchIDs(t, other, "quoll"); !slices.Equal(got, []string{n.ID}) {
		t.Fatalf("another process's search found %v, want %s", got, n.ID)
	}

	n2, err := db.Update(bg, n.ID, model.Fields{"body": "the dunnart brief"})
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, crashed+suffix); err != nil {
			t.Fatal(err)
		}
	}
	after := openAt(t, crashed)
	if got := searchIDs(t, after, "dunnart"); !slices.Equal(got, []string{n2.ID}) {
		t.Fatalf("search after a crash found %v, want %s", got, n2.ID)
	}
	if got := searchIDs(t, after, "quoll"); len(got) != 0 {
		t.Fatalf("search after a crash found the old text in %v", got)
	}
}

// Close catches the backlog up, so the next open starts with none.
func TestCloseCatchesTheSearchBacklogUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db := openNoIndexer(t, path)
	m := mustMatter(t, db, "Smith")
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Hearing", "body": "the potoroo brief"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again := openNoIndexer(t, path)
	if got := scalar[int](t, again, "SELECT count(*) FROM search_backlog"); got != 0 {
		t.Fatalf("the backlog held %d records after Close", got)
	}
	match := again.searchMatch("potoroo")
	if got := scalar[int](t, again, "SELECT count(*) FROM records_fts WHERE records_fts MATCH ?", match); got != 1 {
		t.Fatalf("the index holds %d entries for the note after Close, want 1", got)
	}
}

// A backlog longer than one catch-up batch is caught up whole, batch by
// batch, before a search.
func TestCatchUpCrossesBatches(t *testing.T) {
	db := openNoIndexer(t, filepath.Join(t.TempDir(), "casefile.db"))
	m := mustMatter(t, db, "Smith")
	n := catchUpBatch + catchUpBatch/2
	for i := range n {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Hearing", "body": fmt.Sprintf("bandicoot %d", i)})
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != n+1 {
		t.Fatalf("backlog holds %d records, want %d", got, n+1)
	}
	if got := searchIDs(t, db, "bandicoot"); len(got) != n {
		t.Fatalf("search found %d of %d notes", len(got), n)
	}
	if got := scalar[int](t, db, "SELECT count(*) FROM search_backlog"); got != 0 {
		t.Fatalf("backlog holds %d records after a search", got)
	}
}
