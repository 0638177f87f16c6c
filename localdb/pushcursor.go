package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"casefile/protocol"
)

// PushCursor returns the pull cursor a push may name (see
// protocol.HeaderCursor); ok is false while a full resync runs, whose
// pages alone may confirm the records it marked.
func (db *DB) PushCursor(ctx context.Context) (cursor int64, ok bool, err error) {
	if err := db.enter(); err != nil {
		return 0, false, err
	}
	defer db.leave()
	var cur, resync sql.NullString
	err = db.r.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = ?), (SELECT value FROM meta WHERE key = ?)",
		metaCursor, metaResync).Scan(&cur, &resync)
	if err != nil {
		return 0, false, fmt.Errorf("read cursor: %w", mapErr(err))
	}
	if resync.String == "1" {
		return 0, false, nil
	}
	// A damaged cursor named in a push would have the server refuse the
	// push, as if the ops were at fault.
	cursor, err = parseCursor(cur.String)
	if err != nil {
		return 0, false, err
	}
	return cursor, true, nil
}

// AdvanceCursorAfterPush moves the pull cursor from from to to after the
// answers of a push that named from were applied, when the server said
// they were every change in between (protocol.PushResponse.Cursor). It
// reports whether it moved: not when the cursor is no longer from (a pull
// or a reset came between), a resync has begun, or a record the results
// changed after from is not held here at least at their version (an
// answer for an op discarded meanwhile is not applied); the next pull then
// fetches the changes as usual.
func (db *DB) AdvanceCursorAfterPush(ctx context.Context, from, to int64, results []protocol.OpResult) (bool, error) {
	if err := db.enter(); err != nil {
		return false, err
	}
	defer db.leave()
	if to <= from {
		return false, nil
	}
	moved := false
	err := db.tx(ctx, func(tx *sql.Tx) (err error) {
		moved, err = advanceAfterPush(ctx, tx, from, to, results)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("advance cursor: %w", err)
	}
	return moved, nil
}

// ApplyPushResultsAndAdvance is ApplyPushResults followed by
// AdvanceCursorAfterPush(from, to), in one transaction: one durable
// commit for the answers of a batch and the cursor they may move. sent
// are the ops as NextPushBatch handed them out (nil, or any subset, when
// they are not at hand): the fields of those still in flight as handed
// out are taken from them rather than read again. As ApplyPushResults,
// it rewrites in results an answer this device takes as a conflict.
func (db *DB) ApplyPushResultsAndAdvance(ctx context.Context, sent []OutboxOp, results []protocol.OpResult, from, to int64) (moved bool, err error) {
	if err := db.enter(); err != nil {
		return false, fmt.Errorf("apply push results: %w", err)
	}
	defer db.leave()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.applyResults(ctx, tx, results, sent); err != nil {
			return err
		}
		if to <= from {
			return nil
		}
		moved, err = advanceAfterPush(ctx, tx, from, to, results)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("apply push results: %w", err)
	}
	return moved, nil
}

func advanceAfterPush(ctx context.Context, tx *sql.Tx, from, to int64, results []protocol.OpResult) (bool, error) {
	cur, err := getMeta(ctx, tx, metaCursor)
	if err != nil {
		return false, err
	}
	resync, err := getMeta(ctx, tx, metaResync)
	if err != nil {
		return false, err
	}
	if c, _ := strconv.ParseInt(cur, 10, 64); c != from || resync == "1" {
		return false, nil
	}
	held, err := holdsResults(ctx, tx, from, results)
	if err != nil || !held {
		return false, err
	}
	return true, setMeta(ctx, tx, metaCursor, strconv.FormatInt(to, 10))
}

// holdsResults reports whether every record the results changed after
// cursor is here at its latest answered version (a tombstone may be gone).
func holdsResults(ctx context.Context, tx *sql.Tx, cursor int64, results []protocol.OpResult) (bool, error) {
	latest := map[string]*protocol.Record{}
	for _, res := range results {
		r := res.Record
		if r == nil || r.Seq <= cursor {
			continue
		}
		if l, ok := latest[r.ID]; !ok || r.Seq > l.Seq {
			latest[r.ID] = r
		}
	}
	if len(latest) == 0 {
		return true, nil
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	versions := make(map[string]int64, len(ids))
	rows, err := tx.QueryContext(ctx, "SELECT id, version FROM records WHERE id "+inIDs, idList(ids))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var version int64
		if err := rows.Scan(&id, &version); err != nil {
			return false, err
		}
		versions[id] = version
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	for id, r := range latest {
		version, ok := versions[id]
		switch {
		case !ok:
			if !r.Deleted {
				return false, nil
			}
		case version < r.Version:
			return false, nil
		}
	}
	return true, nil
}
