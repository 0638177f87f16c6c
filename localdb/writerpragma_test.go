package localdb

import "testing"

// The writer keeps statement journals in memory and a page cache that
// holds an import batch or a pull page until its commit; the readers keep
// SQLite's defaults (a file-backed temp store and a 2 MiB cache).
func TestWriterBulkPragmas(t *testing.T) {
	db := openTest(t)
	pragma := func(q querier, name string) int {
		t.Helper()
		var v int
		if err := q.QueryRowContext(bg, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	const memory, fileDefault = 2, 0
	if got := pragma(db.w, "temp_store"); got != memory {
		t.Errorf("writer temp_store %d, want %d (memory)", got, memory)
	}
	if got := pragma(db.w, "cache_size"); got != -writerCacheKiB {
		t.Errorf("writer cache_size %d, want %d", got, -writerCacheKiB)
	}
	if got := pragma(db.r, "temp_store"); got != fileDefault {
		t.Errorf("reader temp_store %d, want the default %d", got, fileDefault)
	}
	if got := pragma(db.r, "cache_size"); got != -2000 {
		t.Errorf("reader cache_size %d, want the default -2000", got)
	}
	// A statement journal is written by a multi-row insert into tables
	// that already hold rows: such an import still works and counts right.
	m := syncedMatter(t, db)
	items := make([]ImportItem, 200)
	for i := range items {
		items[i] = ImportItem{Fields: map[string]any{"matter_id": m, "title": "note"}}
	}
	for range 3 {
		if err := db.Import(bg, "note", items); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Count(bg, ListQuery{Collection: "note"}); err != nil || n != 600 {
		t.Fatalf("notes %d, %v; want 600", n, err)
	}
}
