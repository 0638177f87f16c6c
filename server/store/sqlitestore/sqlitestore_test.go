package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"casefile/server/store"
	"casefile/server/store/sqlitestore"
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
