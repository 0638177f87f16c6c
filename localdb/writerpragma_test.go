package localdb

import (
	"database/sql"
	"errors"
	"slices"
	"syscall"
	"testing"
)

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

// An import batch written unsynced commits at synchronous=NORMAL, and the
// writer is back at FULL for every write after it, a failed batch's too;
// SyncWAL then syncs the log that holds the batches.
func TestImportUnsynced(t *testing.T) {
	db := openTest(t)
	const normal, full = 1, 2
	sync := func(q querier) int {
		t.Helper()
		var v int
		if err := q.QueryRowContext(bg, "PRAGMA synchronous").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var inside int
	if err := db.txUnsynced(bg, func(tx *sql.Tx) error { inside = sync(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside != normal {
		t.Errorf("synchronous %d inside an unsynced transaction, want %d", inside, normal)
	}
	if err := db.tx(bg, func(tx *sql.Tx) error { inside = sync(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside != full {
		t.Errorf("synchronous %d in the write after an unsynced one, want %d", inside, full)
	}
	failed := errors.New("refused")
	if err := db.txUnsynced(bg, func(*sql.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("err %v, want %v", err, failed)
	}
	if got := sync(db.w); got != full {
		t.Errorf("synchronous %d after a failed unsynced transaction, want %d", got, full)
	}

	var synced []string
	syncLog = func(path string) error { synced = append(synced, path); return syncFile(path) }
	t.Cleanup(func() { syncLog = syncFile })
	m := syncedMatter(t, db)
	p, err := db.PrepareImport("note", []ImportItem{{Fields: map[string]any{"matter_id": m, "title": "note"}}})
	if err != nil {
		t.Fatal(err)
	}
	if counts, err := db.WriteImportUnsynced(bg, p, ExistingStop); err != nil || counts.Written != 1 {
		t.Fatalf("import: %+v, %v", counts, err)
	}
	if got := sync(db.w); got != full {
		t.Errorf("synchronous %d after an unsynced import, want %d", got, full)
	}
	if len(synced) != 0 {
		t.Fatalf("the log was synced during the import: %v", synced)
	}
	if err := db.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	if want := []string{db.path + "-wal"}; !slices.Equal(synced, want) {
		t.Errorf("synced %v, want %v", synced, want)
	}
	syncLog = func(string) error { return syscall.EIO }
	if err := db.SyncWAL(); !errors.Is(err, syscall.EIO) {
		t.Errorf("SyncWAL with a failing disk: %v, want EIO", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.SyncWAL(); !errors.Is(err, ErrClosed) {
		t.Errorf("SyncWAL after Close: %v, want ErrClosed", err)
	}
}
