package localdb

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"casefile/model"
)

// Migration 0018 keeps in records_state only the records that are not
// synced. Lists of each state (with and without a collection, tombstones
// or not) and the counts per state find what they found with the full
// index, checked against the states of all records read one by one; a
// list of a state other than synced still reads the index, and counting
// walks no table.
func TestRecordsStateHoldsOnlyUnsyncedRecords(t *testing.T) {
	db, older := openOlderSeeded(t, 18)
	for i, r := range allRecords(t, db) {
		if i%4 == 0 && r.Collection == "note" {
			if err := db.Delete(bg, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	var queries []ListQuery
	for _, s := range model.States {
		for _, deleted := range []bool{false, true} {
			queries = append(queries, ListQuery{State: s, IncludeDeleted: deleted}, ListQuery{State: s, Collection: "note", IncludeDeleted: deleted, Limit: 5})
		}
	}
	view := func(db *DB) string {
		var b strings.Builder
		st, err := db.Status(bg)
		if err != nil {
			t.Fatal(err)
		}
		want := map[model.SyncState]int{}
		for _, s := range model.States {
			want[s] = 0
		}
		for _, r := range allRecords(t, db) {
			want[r.State]++
		}
		for _, s := range model.States {
			if st.Counts[s] != want[s] {
				t.Errorf("status counts %d %s records, there are %d", st.Counts[s], s, want[s])
			}
			fmt.Fprintf(&b, "%s: %d\n", s, st.Counts[s])
		}
		for _, q := range queries {
			recs, err := db.List(bg, q)
			if err != nil {
				t.Fatal(err)
			}
			n, err := db.Count(bg, ListQuery{State: q.State, Collection: q.Collection, IncludeDeleted: q.IncludeDeleted})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				if r.State != q.State {
					t.Errorf("list of %s records holds a %s one", q.State, r.State)
				}
				ids = append(ids, r.ID)
			}
			fmt.Fprintf(&b, "%+v: %d %v\n", q, n, ids)
		}
		return b.String()
	}
	// Opening puts ops a crash caught syncing back to retrying: the view
	// with the full index is taken once that has happened.
	db.Close()
	db = older.reopen(false)
	full := view(db)
	if !strings.Contains(full, "conflict: 1") || !strings.Contains(full, "failed: 2") || strings.Contains(full, "synced: 0") {
		t.Fatalf("the seed does not reach every state:\n%s", full)
	}
	db.Close()
	db = older.reopen(true)
	defer db.Close()
	var def string
	if err := db.r.QueryRowContext(bg, "SELECT sql FROM sqlite_schema WHERE name = 'records_state'").Scan(&def); err != nil || !strings.Contains(def, "WHERE state <> 'synced'") {
		t.Fatalf("records_state is %q (%v), want an index of the records not synced", def, err)
	}
	if got := view(db); got != full {
		t.Fatalf("with records_state of the records not synced:\n%s\nwith all records:\n%s", got, full)
	}
	if _, err := db.w.ExecContext(bg, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, s := range model.States {
		query, args, _, err := db.listQuery(ListQuery{State: s, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, db.r, query, args...)
		if uses := strings.Contains(plan, "INDEX records_state"); uses != (s != model.StateSynced) {
			t.Errorf("list of %s records: plan %q", s, plan)
		}
	}
	plan := queryPlan(t, db.r, `SELECT state, count(*) FROM records WHERE state <> ?1 GROUP BY state
		UNION ALL SELECT ?1, count(*) FROM records`, model.StateSynced)
	if slices.Contains(strings.Split(plan, "; "), "SCAN records") {
		t.Errorf("counting by state walks the table: %q", plan)
	}
}

// stateRow is a record's id, collection and state as stored.
type stateRow struct {
	ID, Collection string
	State          model.SyncState
}

// allRecords reads every record's state from the table itself.
func allRecords(t *testing.T, db *DB) []stateRow {
	t.Helper()
	rows, err := db.r.QueryContext(bg, "SELECT id, collection, state FROM records ORDER BY rid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []stateRow
	for rows.Next() {
		var r stateRow
		if err := rows.Scan(&r.ID, &r.Collection, &r.State); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
