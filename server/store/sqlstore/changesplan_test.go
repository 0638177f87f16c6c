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

// recordingQuerier notes every query and its arguments before passing it on.
type recordingQuerier struct {
	querier
	queries []recordedQuery
}

type recordedQuery struct {
	text string
	args []any
}

func (r *recordingQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.queries = append(r.queries, recordedQuery{query, args})
	return r.querier.QueryContext(ctx, query, args...)
}

// TestChangesSortNothingOnSQLite: on SQLite a pull's page is read in
// sequence order whenever the page is full within the next seqWindow ×
// limit sequence numbers or the range is no longer than that, so no
// statement of it sorts the visible rows of the range in a temporary
// B-tree (a first sync of a few thousand records sorted them all for
// every page), nor does a page with a byte budget. The pages are the
// visible records in sequence order.
func TestChangesSortNothingOnSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plan.db")+"?_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db, os.DirFS("../sqlitestore/migrations"), ""); err != nil {
		t.Fatal(err)
	}
	// Records over ten matters, alice a member of the first six of them,
	// as a bench's notes spread over fifty.
	const n, matters, seen = 400, 10, 6
	if _, err := db.Exec(`INSERT INTO users (name, password_hash, role, created_at) VALUES ('alice', 'x', 'member', 0)`); err != nil {
		t.Fatal(err)
	}
	for m := range seen {
		if _, err := db.Exec(`INSERT INTO members (user_name, matter_id) VALUES ('alice', ?)`, fmt.Sprint("matter-", m)); err != nil {
			t.Fatal(err)
		}
	}
	var visible []int64
	for seq := int64(1); seq <= n; seq++ {
		m := int(seq % matters)
		if m < seen {
			visible = append(visible, seq)
		}
		if _, err := db.Exec(`INSERT INTO records (id, collection, matter_id, version, seq, deleted, fields, field_versions,
			created_by, created_at, updated_by, updated_at) VALUES (?, 'note', ?, 1, ?, false, '{}', '{}', 'alice', 0, 'alice', 0)`,
			fmt.Sprintf("r%04d", seq), fmt.Sprint("matter-", m), seq); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []store.ChangeQuery{
		{After: 0, UpTo: n, Limit: 100},  // the whole range within the window
		{After: 0, UpTo: n, Limit: 500},  // more asked for than there is
		{After: 150, UpTo: n, Limit: 60}, // the last pages of a pull
		{After: 0, UpTo: n, Limit: 20},   // a page full within the window
		{After: 37, UpTo: 90, Limit: 7},
		{After: 0, UpTo: n, Limit: 100, MaxBytes: 41}, // a budget of 21 records of 2 bytes
		{After: 150, UpTo: n, Limit: 60, MaxBytes: 1},
	} {
		q.User = "alice"
		var want []int64
		for _, s := range visible {
			if s > q.After && s <= q.UpTo && len(want) < q.Limit && (q.MaxBytes == 0 || len("{}")*len(want) < q.MaxBytes) {
				want = append(want, s)
			}
		}
		// A page with a budget stops as its rows stream, or is measured
		// first where they do not.
		for _, streams := range []bool{true, false} {
			rec := &recordingQuerier{querier: direct{db}}
			tx := &txn{q: rec, d: &Dialect{Name: "sqlite", NoIndex: "+", Streams: streams}}
			got, err := tx.Changes(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%+v: %d records, want %d", q, len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != want[i] {
					t.Fatalf("%+v: record %d has seq %d, want %d", q, i, got[i].Seq, want[i])
				}
			}
			for _, rq := range rec.queries {
				if plan := queryPlan(t, db, rq); strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%+v: %s\nplans %s", q, rq.text, plan)
				}
			}
		}
	}
}

// queryPlan is SQLite's plan of a query, its steps' details joined.
func queryPlan(t *testing.T, db *sql.DB, q recordedQuery) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q.text, q.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}
