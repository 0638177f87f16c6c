package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// maxOutboxPage bounds one OutboxPage read.
const maxOutboxPage = 10_000

// The backlog's queries. The page names its index, so that no table
// statistics can lead the planner to walk the whole queue for a state that
// holds a handful of ops.
const (
	outboxCountsQuery = "SELECT state, count(*) FROM outbox GROUP BY state"
	outboxPageWhere   = "INDEXED BY outbox_state WHERE state = ? ORDER BY seq LIMIT ? OFFSET ?"
)

// OutboxCounts returns how many queued ops are in each state; states with
// none are absent.
func (db *DB) OutboxCounts(ctx context.Context) (map[OpState]int, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	defer db.leave()
	rows, err := db.r.QueryContext(ctx, outboxCountsQuery)
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[OpState]int{}
	for rows.Next() {
		var st OpState
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count outbox: %w", mapErr(err))
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count outbox: %w", mapErr(err))
	}
	return out, nil
}

// ReadPage is how many rows a caller reads from the local database at a
// time when it walks a whole table (an export, the retry schedule at
// start): big enough that a page costs little per row, small enough to
// hold in memory.
const ReadPage = 5000

// OutboxPage returns a window of the ops in one state, in queue order: at
// most limit ops (1 to 10,000) after skipping offset of them. Together
// with OutboxCounts it lets a reader show a huge outbox without holding it.
func (db *DB) OutboxPage(ctx context.Context, state OpState, offset, limit int) ([]OutboxOp, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read outbox page: %w", err)
	}
	defer db.leave()
	switch state {
	case OpPending, OpSyncing, OpRetrying, OpFailed, OpConflict:
	default:
		return nil, fmt.Errorf("read outbox page: %q is not an op state (pending, syncing, retrying, failed, conflict)", state)
	}
	if offset < 0 || limit <= 0 || limit > maxOutboxPage {
		return nil, fmt.Errorf("read outbox page: offset %d and limit %d must be 0 or more and 1 to %d", offset, limit, maxOutboxPage)
	}
	ops, err := db.queryOps(ctx, db.r, outboxPageWhere, state, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("read outbox page: %w", mapErr(err))
	}
	out := make([]OutboxOp, len(ops))
	for i, o := range ops {
		out[i] = o.outboxOp()
	}
	return out, nil
}

// NextRetry returns when the first retrying op becomes due, or false when
// none waits. A syncer schedules its wake from it after a push: the retry
// time NextBatch moved after the clock went back is known only here.
func (db *DB) NextRetry(ctx context.Context) (time.Time, bool, error) {
	if err := db.enter(); err != nil {
		return time.Time{}, false, fmt.Errorf("read next retry: %w", err)
	}
	defer db.leave()
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MIN(next_attempt) FROM outbox WHERE state = ? AND next_attempt > 0`, OpRetrying).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read next retry: %w", mapErr(err))
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromNanos(next.Int64), true, nil
}
