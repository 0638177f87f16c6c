package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"casefile/server/store"

	_ "modernc.org/sqlite"
)

// TestReadBeginsAtItsFirstStatement: a Read that asks only the access
// generation begins no transaction, and a snapshot begun after it sees a
// change committed between the two.
func TestReadBeginsAtItsFirstStatement(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lazy.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)&_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	w, r := open(), open()
	if _, err := w.Exec(`CREATE TABLE access_gen (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
		INSERT INTO access_gen VALUES (1, 7)`); err != nil {
		t.Fatal(err)
	}
	db := New(w, r, Dialect{Name: "sqlite"}, "test")
	t.Cleanup(func() { db.Close() })

	var began bool
	err := db.Read(ctx, func(rd store.Reader) error {
		g, err := rd.AccessGen(ctx)
		if err != nil {
			return err
		}
		if g != 7 {
			t.Errorf("AccessGen = %d, want 7", g)
		}
		began = rd.(*txn).q.(*lazySnapshot).begun()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if began {
		t.Error("a Read that asked only the access generation began a transaction")
	}

	err = db.Read(ctx, func(rd store.Reader) error {
		if _, err := rd.AccessGen(ctx); err != nil {
			return err
		}
		if _, err := w.Exec(`UPDATE access_gen SET n = 8`); err != nil {
			return err
		}
		var n int64
		if err := rd.(*txn).q.QueryRow(ctx, `SELECT n FROM access_gen`).Scan(&n); err != nil {
			return err
		}
		if n != 8 {
			t.Errorf("the snapshot begun after the generation was read sees n = %d, want 8", n)
		}
		if !rd.(*txn).q.(*lazySnapshot).begun() {
			t.Error("a statement did not begin the snapshot")
		}
		// Once begun, the generation is the snapshot's.
		if _, err := w.Exec(`UPDATE access_gen SET n = 9`); err != nil {
			return err
		}
		if g, err := rd.AccessGen(ctx); err != nil || g != 8 {
			t.Errorf("AccessGen in the snapshot = %d, %v; want 8", g, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
