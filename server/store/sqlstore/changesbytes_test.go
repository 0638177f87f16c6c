package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/server/store"

	_ "modernc.org/sqlite"
)

// TestChangesReadOnlyWhatFits: a page with a byte budget over records
// of 10,000 bytes each asks the database for the rows that fit and no
// more. Where rows come as the engine reads them in sequence order
// (SQLite's, for a user who sees most records, or an admin), one query
// reads until the budget is reached; elsewhere (as PostgreSQL, which
// sends every row a query selects, and SQLite's sorted read for a user
// who sees few) a query of the rows' lengths comes first and the read
// then selects just the records that fit.
func TestChangesReadOnlyWhatFits(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "bytes.db")+"?_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db, os.DirFS("../sqlitestore/migrations"), ""); err != nil {
		t.Fatal(err)
	}
	// 400 records of 10,000 bytes, alice a member of matter-0, which
	// holds every record, or one in twenty (sparse).
	const n, size = 400, 10_000
	if _, err := db.Exec(`INSERT INTO users (name, password_hash, role, created_at) VALUES ('alice', 'x', 'member', 0);
		INSERT INTO members (user_name, matter_id) VALUES ('alice', 'matter-0')`); err != nil {
		t.Fatal(err)
	}
	fields := `{"body":"` + strings.Repeat("x", size-len(`{"body":""}`)) + `"}`
	fill := func(sparse bool) {
		t.Helper()
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`DELETE FROM records`); err != nil {
			t.Fatal(err)
		}
		for seq := 1; seq <= n; seq++ {
			m := "matter-0"
			if sparse && seq%20 != 0 {
				m = "matter-1"
			}
			if _, err := tx.Exec(`INSERT INTO records (id, collection, matter_id, version, seq, deleted, fields, field_versions,
				created_by, created_at, updated_by, updated_at) VALUES (?, 'note', ?, 1, ?, false, ?, '{}', 'alice', 0, 'alice', 0)`,
				fmt.Sprintf("r%04d", seq), m, seq, fields); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	sqlite := &Dialect{Name: "sqlite", NoIndex: "+", Streams: true}
	elsewhere := &Dialect{Name: "postgres"}
	for _, c := range []struct {
		name   string
		d      *Dialect
		sparse bool
		all    bool
		// The queries of records, of lengths, and the limit of the
		// records' query after a query of lengths.
		reads, measures int
		measured        int64
	}{
		{"sqlite, in sequence order", sqlite, false, false, 1, 0, 0},
		{"sqlite, an admin", sqlite, false, true, 1, 0, 0},
		// Four records in the first 80 sequence numbers, read in order;
		// the rest sorted, measured first.
		{"sqlite, sorted", sqlite, true, false, 2, 1, 2},
		{"an engine that sends every row", elsewhere, false, false, 1, 1, 6},
		{"an engine that sends every row, an admin", elsewhere, false, true, 1, 1, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			fill(c.sparse)
			rec := &recordingQuerier{querier: direct{db}}
			tx := &txn{q: rec, d: c.d}
			// 5 records and a half: the sixth fills the page.
			q := store.ChangeQuery{User: "alice", All: c.all, UpTo: n, Limit: 10, MaxBytes: 5*size + size/2, Text: true}
			got, err := tx.Changes(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 6 {
				t.Fatalf("%d records, want 6", len(got))
			}
			var reads, measures int
			measured := false
			for _, rq := range rec.queries {
				limit := rq.args[len(rq.args)-1].(int64)
				switch {
				case strings.Contains(rq.text, "octet_length"):
					measures++
					measured = true
				case measured && limit != c.measured:
					t.Errorf("the records were read with limit %d after measuring %d: %s", limit, c.measured, rq.text)
					fallthrough
				default:
					reads++
				}
			}
			if reads != c.reads || measures != c.measures {
				t.Errorf("%d queries of records and %d of lengths, want %d and %d: %q", reads, measures, c.reads, c.measures, rec.queries)
			}
		})
	}
}
