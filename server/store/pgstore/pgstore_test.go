package pgstore_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/storetest"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := pgstore.Open(context.Background(), storetest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestTwoStoresShareHints opens two stores on one schema, as two replicas
// do, and checks that a commit through one reaches the other's listener.
func TestTwoStoresShareHints(t *testing.T) {
	sharesHints(t, storetest.PostgresURL(t))
}

// openTwo opens two stores on url, as two replicas do, closed when the
// test ends.
func openTwo(t *testing.T, url string) (a, b *pgstore.Store) {
	t.Helper()
	for _, st := range []**pgstore.Store{&a, &b} {
		s, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		*st = s
	}
	return a, b
}

// sharesHints checks that a commit through one store on url reaches the
// other's listener.
func sharesHints(t *testing.T, url string) {
	ctx := context.Background()
	a, b := openTwo(t, url)
	got := make(chan store.Hint, 1)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Listen(lctx, func(h store.Hint) {
			select {
			case got <- h:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	// a listens on PostgreSQL since Open; its in-process Listen may start
	// a little later, so keep committing until a hint arrives.
	for seq := int64(1); ; seq++ {
		if err := b.Write(ctx, func(tx store.Tx) error {
			n, err := tx.NextSeq(ctx)
			tx.Notify(store.Hint{Seq: n, MatterID: "m"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case h := <-got:
			if h.MatterID != "m" || h.Seq < 1 {
				t.Fatalf("hint = %+v", h)
			}
			return
		default:
		}
		if seq > 10000 {
			t.Fatal("no hint crossed from one store to the other")
		}
		waitABit(got)
	}
}

func TestCreatedSeqBackfill(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckCreatedSeqBackfill(t, db, os.DirFS("migrations"), "", func(t *testing.T) {
		st, err := pgstore.Open(context.Background(), url)
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
	url := storetest.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckLedgerSeqBackfill(t, db, os.DirFS("migrations"), "", func(t *testing.T) {
		st, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("open a database of schema 003: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExists: a database without a store is said to hold none, and is
// left without one; once a store is opened there, it holds one.
func TestExists(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	for range 2 {
		if found, err := pgstore.Exists(ctx, url); err != nil || found {
			t.Fatalf("Exists on an empty schema = %v, %v", found, err)
		}
	}
	st, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if found, err := pgstore.Exists(ctx, url); err != nil || !found {
		t.Fatalf("Exists after Open = %v, %v", found, err)
	}
	if _, err := pgstore.Exists(ctx, "postgres://user:secret@127.0.0.1:5432/x?sslmode=nonsense"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Exists of a bad URL: %v", err)
	}
}
