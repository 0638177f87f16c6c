package localdb

import (
	"context"
	"path/filepath"
	"testing"

	"casefile/assets"
	"casefile/model"
)

func testSchema(t testing.TB) *model.Schema {
	t.Helper()
	s, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openTest opens a fresh database file in a temporary directory.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "casefile.db"), testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustMatter creates a matter and returns its id.
func mustMatter(t testing.TB, db *DB, title string) string {
	t.Helper()
	r, err := db.Create(context.Background(), "matter", "", model.Fields{"title": title})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}
