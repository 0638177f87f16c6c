package stmtcache

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite" // the uncached baseline of the benchmark
)

var bg = context.Background()

func openTest(t testing.TB) *sql.DB {
	t.Helper()
	db := Open("file:" + filepath.Join(t.TempDir(), "t.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// kept returns the statements the pool's one connection keeps.
func kept(t *testing.T, db *sql.DB) map[string]*stmt {
	t.Helper()
	c, err := db.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out map[string]*stmt
	err = c.Raw(func(dc any) error {
		cn := dc.(*conn)
		cn.mu.Lock()
		defer cn.mu.Unlock()
		out = map[string]*stmt{}
		for q, s := range cn.stmts {
			out[q] = s
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReuse: the same text runs on the same kept statement, with fresh
// arguments each time, in and out of transactions.
func TestReuse(t *testing.T) {
	db := openTest(t)
	const ins = "INSERT INTO kv (k, v) VALUES (?, ?)"
	for i := range 5 {
		if _, err := db.Exec(ins, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	first := kept(t, db)[ins]
	if first == nil {
		t.Fatal("the insert was not kept")
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ins, "in-tx", 99); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if kept(t, db)[ins] != first {
		t.Error("the kept statement was replaced")
	}
	var n, sum int
	if err := db.QueryRow("SELECT COUNT(*), SUM(v) FROM kv").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 5 || sum != 0+1+2+3+4 {
		t.Errorf("count %d sum %d, want 5 and 10 (the rolled-back row gone)", n, sum)
	}
	// Errors leave the statement usable.
	if _, err := db.Exec(ins, "k0", 1); err == nil {
		t.Fatal("a duplicate key was accepted")
	}
	if _, err := db.Exec(ins, "k5", 5); err != nil {
		t.Fatalf("after an error: %v", err)
	}
}

// TestNestedSameQuery: a query still being read while the same text runs
// again gets a statement of its own, and both read correctly.
func TestNestedSameQuery(t *testing.T) {
	db := openTest(t)
	for i := range 3 {
		if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	const q = "SELECT k, v FROM kv WHERE v >= ? ORDER BY k"
	tx, err := db.Begin() // one connection for both queries
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.Query(q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var k string
		var v int
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.Query(q, v)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		inner.Close()
		got = append(got, fmt.Sprintf("%s:%d", k, n))
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if fmt.Sprint(got) != "[k0:3 k1:2 k2:1]" {
		t.Errorf("nested reads = %v", got)
	}
}

// TestScriptsRunWhole: a text of several statements runs every one of
// them, each time, and is not kept.
func TestScriptsRunWhole(t *testing.T) {
	db := openTest(t)
	const script = "INSERT INTO kv (k, v) VALUES ('a', 1); INSERT INTO kv (k, v) VALUES ('b', 2);"
	if _, err := db.Exec(script); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM kv"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(script); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM kv").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after the script twice: %d rows, %v", n, err)
	}
	if _, ok := kept(t, db)[script]; ok {
		t.Error("a script was kept")
	}
}

// TestSchemaChange: a kept statement follows the schema as it changes.
func TestSchemaChange(t *testing.T) {
	db := openTest(t)
	const q = "SELECT * FROM kv"
	cols := func() int {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if n := cols(); n != 2 {
		t.Fatalf("%d columns", n)
	}
	if _, err := db.Exec("ALTER TABLE kv ADD COLUMN note TEXT"); err != nil {
		t.Fatal(err)
	}
	if n := cols(); n != 3 {
		t.Errorf("after ALTER TABLE the kept statement shows %d columns, want 3", n)
	}
}

// TestConcurrentPool: many goroutines over a pool of connections, each
// with its own kept statements.
func TestConcurrentPool(t *testing.T) {
	db := openTest(t)
	db.SetMaxOpenConns(4)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				k := fmt.Sprintf("g%d-%d", g, i)
				if _, err := db.Exec("INSERT INTO kv (k, v) VALUES (?, ?)", k, i); err != nil {
					errs <- err
					return
				}
				var v int
				if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", k).Scan(&v); err != nil || v != i {
					errs <- fmt.Errorf("read %s: %d, %v", k, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM kv").Scan(&n); err != nil || n != 400 {
		t.Errorf("%d rows, %v; want 400", n, err)
	}
}

// BenchmarkPointWrite compares a small write-and-read transaction through
// this package with the same through the plain driver, in one run: the
// ratio is the figure (go test -bench PointWrite ./internal/stmtcache).
func BenchmarkPointWrite(b *testing.B) {
	for _, kind := range []string{"plain", "kept"} {
		b.Run(kind, func(b *testing.B) {
			dsn := "file:" + filepath.Join(b.TempDir(), "b.db") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_txlock=immediate"
			var db *sql.DB
			if kind == "kept" {
				db = Open(dsn)
			} else {
				var err error
				if db, err = sql.Open("sqlite", dsn); err != nil {
					b.Fatal(err)
				}
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL, note TEXT)"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				k := fmt.Sprint("k", i)
				if _, err := tx.Exec("INSERT INTO kv (k, v, note) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, i, "x"); err != nil {
					b.Fatal(err)
				}
				var v int
				if err := tx.QueryRow("SELECT v FROM kv WHERE k = ? AND note IS NOT NULL", k).Scan(&v); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
