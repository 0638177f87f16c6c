package localdb

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestCopyUnderAReadTransaction: the model tests' crash step copies the
// database file, then its WAL, while the handle's checkpointer and indexer
// go on. Copied in the worst order here (the file before a checkpoint,
// the WAL after a write that followed it), the two copies made a database
// with no records table: the write had started the WAL again. With a read
// transaction held on the file across the copy (holdSnapshot, which the
// crash step now uses), the WAL cannot start again under it, and the copy
// is a database the process held.
func TestCopyUnderAReadTransaction(t *testing.T) {
	db := openTest(t)
	mustMatter(t, db, "one")
	mustMatter(t, db, "two")
	from, to := db.path, filepath.Join(t.TempDir(), "copy.db")

	end, err := holdSnapshot(from)
	if err != nil {
		t.Fatal(err)
	}
	defer end()

	if err := copyFile(from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		t.Fatal(err)
	}
	mustMatter(t, db, "three")
	if err := copyFile(from+"-wal", to+"-wal"); err != nil {
		t.Fatal(err)
	}

	c, err := sql.Open("sqlite", DSN(to))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRow("SELECT count(*) FROM records").Scan(&n); err != nil {
		t.Fatalf("the copy: %v", err)
	}
	if n != 2 && n != 3 {
		t.Fatalf("the copy holds %d records, want those of a moment the process held (2 or 3)", n)
	}
}

// holdSnapshot begins a read transaction on the database at path, on a
// connection of its own, and returns what ends it.
func holdSnapshot(path string) (end func(), err error) {
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, err
	}
	tx, err := db.Begin()
	if err != nil {
		db.Close()
		return nil, err
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		tx.Rollback()
		db.Close()
		return nil, err
	}
	return func() {
		tx.Rollback()
		db.Close()
	}, nil
}
