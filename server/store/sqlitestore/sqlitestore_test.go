package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"casefile/server/store"
	"casefile/server/store/sqlitestore"
	"casefile/server/store/sqlstore"
	"casefile/server/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), sqlitestore.FileName))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", sqlitestore.FileName)
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, func(tx store.Tx) error { _, err := tx.NextSeq(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen (migrations must run once): %v", err)
	}
	defer st.Close()
	var h store.Head
	if err := st.Read(ctx, func(r store.Reader) (err error) { h, err = r.Head(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if h.Seq != 1 {
		t.Fatalf("head after reopen = %d, want 1", h.Seq)
	}
}

func TestCreatedSeqBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlitestore.FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckCreatedSeqBackfill(t, db, os.DirFS("migrations"), "", func(t *testing.T) {
		st, err := sqlitestore.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open a database of schema 002: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLedgerSeqBackfill: an upgraded store treats every answer it held
// before as possibly compacted.
func TestLedgerSeqBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlitestore.FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckLedgerSeqBackfill(t, db, os.DirFS("migrations"), "", func(t *testing.T) {
		st, err := sqlitestore.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open a database of schema 003: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// Migration numbers are reserved ahead of time, so a lower one can land
// after a database already took a higher one; it must still run.
func TestMigrationLandingLateStillRuns(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first := fstest.MapFS{
		"001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"003_c.sql": {Data: []byte(`CREATE TABLE c (x INTEGER);`)},
	}
	if err := sqlstore.Migrate(ctx, db, first, ""); err != nil {
		t.Fatal(err)
	}
	later := fstest.MapFS{
		"001_a.sql": first["001_a.sql"],
		"002_b.sql": {Data: []byte(`CREATE TABLE b (x INTEGER);`)},
		"003_c.sql": first["003_c.sql"],
	}
	if err := sqlstore.Migrate(ctx, db, later, ""); err != nil {
		t.Fatalf("second migration (001 and 003 must not run again): %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO b (x) VALUES (1)`); err != nil {
		t.Fatalf("002 landed after 003 and did not run: %v", err)
	}
}

// TestOpenSaysWhatIsWrong: a file that is not a database, or one this
// user may not write, is named in a sentence, not SQLite's error text.
func TestOpenSaysWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database. "), 64), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(ctx, path)
	if err == nil || err.Error() != path+" is not a server database (not an SQLite file)" {
		t.Fatalf("open of a text file: %v", err)
	}
	if os.Getuid() == 0 {
		return // root writes whatever the mode says
	}
	ro := filepath.Join(t.TempDir(), "server.db")
	st, err := sqlitestore.Open(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Chmod(ro, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitestore.Open(ctx, ro); err == nil || !strings.Contains(err.Error(), "cannot be written by this user") {
		t.Errorf("open of a read-only database: %v", err)
	}
}
