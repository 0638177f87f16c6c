package storemove

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"casefile/server/blobstore"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
)

// TestEveryTableIsMoved fails when a migration adds a table to the SQLite
// store (or the directory blob store's index) that the move does not
// name: teach serverTables or blobTables what to do with it, or its rows
// would be left behind.
func TestEveryTableIsMoved(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	bs, err := blobstore.OpenDir(ctx, filepath.Join(dir, blobstore.DirName))
	if err != nil {
		t.Fatal(err)
	}
	bs.Close()
	for _, f := range []struct {
		path string
		plan []table
	}{
		{filepath.Join(dir, sqlitestore.FileName), serverTables},
		{filepath.Join(dir, blobstore.DirName, blobstore.IndexName), blobTables},
	} {
		db, tx, err := openReadOnly(ctx, f.path)
		if err != nil {
			t.Fatal(err)
		}
		have, err := sourceTables(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if unknown := uncovered(have, f.plan); len(unknown) > 0 {
			t.Errorf("%s has tables the move does not copy: %v; add them to the move's plan", filepath.Base(f.path), unknown)
		}
		for _, p := range f.plan {
			if !slices.Contains(have, p.name) {
				t.Errorf("the move names %s, which %s lacks", p.name, filepath.Base(f.path))
			}
		}
		_ = tx.Rollback()
		db.Close()
	}
}

// TestLayoutsAgree checks that the SQLite and PostgreSQL migrations are
// numbered alike: the move compares a source's layout with both.
func TestLayoutsAgree(t *testing.T) {
	a, err := sqlitestore.Versions()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pgstore.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Errorf("SQLite migrations %v, PostgreSQL %v", a, b)
	}
}
