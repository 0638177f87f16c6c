package localdb

import (
	"strings"
	"testing"
)

// Migration 0016 drops outbox_due: every outbox read that filters on state
// keeps the plan it had with the index (outbox_state serves them all) and
// none walks the whole table (counting per state reads the index alone).
func TestDroppingOutboxDueKeepsThePlans(t *testing.T) {
	db, older := openOlderSeeded(t, 16)
	queries := []struct {
		name, query string
		args        []any
	}{
		{"clamp retries", `UPDATE outbox SET next_attempt = ? + (next_attempt - updated_at), updated_at = ?
			WHERE state = ? AND updated_at > ? AND next_attempt > updated_at`, []any{1, 1, OpRetrying, 1}},
		{"recover syncing", "SELECT DISTINCT record_id FROM outbox WHERE state = ?", []any{OpSyncing}},
		{"resolve failed and retrying", "SELECT " + opSelect + " FROM outbox WHERE state IN (?, ?) ORDER BY seq", []any{OpFailed, OpRetrying}},
		{"doctor: stuck syncing", "SELECT " + opSelect + " FROM outbox WHERE state = ? AND updated_at < ? ORDER BY seq", []any{OpSyncing, 1}},
		{"doctor: conflicts", "SELECT " + opSelect + " FROM outbox WHERE state = ? ORDER BY seq", []any{OpConflict}},
		{"oldest unsent", "SELECT min(created_at) FROM outbox WHERE state IN (?, ?, ?)", []any{OpPending, OpSyncing, OpRetrying}},
		{"backlog page", "SELECT " + opSelect + " FROM outbox " + outboxPageWhere, []any{OpFailed, 10, 0}},
		{"backlog counts", outboxCountsQuery, nil},
	}
	plans := func(db *DB) []string {
		if _, err := db.w.ExecContext(bg, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, q := range queries {
			out = append(out, queryPlan(t, db.w, q.query, q.args...))
		}
		return out
	}
	withDue := plans(db)
	db.Close()
	db = older.reopen(true)
	defer db.Close()
	var n int
	if err := db.r.QueryRowContext(bg, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'outbox_due'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox_due still there: %d %v", n, err)
	}
	for i, p := range plans(db) {
		walks := strings.Contains(p, "SCAN outbox") && !strings.Contains(p, "COVERING INDEX outbox_state")
		if p != withDue[i] || walks {
			t.Errorf("%s: plan %q, with outbox_due %q", queries[i].name, p, withDue[i])
		}
	}
}
