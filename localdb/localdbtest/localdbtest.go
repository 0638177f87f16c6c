// Package localdbtest opens local databases for the tests of the packages
// built on localdb.
package localdbtest

import (
	"context"
	"path/filepath"
	"testing"

	"casefile/assets"
	"casefile/localdb"
	"casefile/model"
)

// Schema returns the embedded collection schema; one that does not parse
// fails the test.
func Schema(t testing.TB) *model.Schema {
	t.Helper()
	s, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Open opens a new local database with the embedded schema in a temporary
// directory of the test; it is closed when the test ends.
func Open(t testing.TB, opts ...localdb.Option) *localdb.DB {
	t.Helper()
	db, err := localdb.Open(context.Background(), filepath.Join(t.TempDir(), "casefile.db"), Schema(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
