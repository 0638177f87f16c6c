package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"casefile/model"
)

// Get returns one record, tombstones included.
func (db *DB) Get(ctx context.Context, id string) (model.Record, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, fmt.Errorf("read record %s: %w", id, err)
	}
	defer db.leave()
	r, err := db.getRow(ctx, db.r, id)
	if err != nil {
		return model.Record{}, mapErr(err)
	}
	return r.record(), nil
}

// listWhere builds the filter of a list query; ok is false when the query
// can match nothing (text without a word).
func (db *DB) listWhere(q ListQuery) (where string, args []any, ok bool, err error) {
	var conds []string
	if q.Collection != "" {
		if _, err := db.collection(q.Collection); err != nil {
			return "", nil, false, err
		}
		conds = append(conds, "collection = ?")
		args = append(args, q.Collection)
	}
	if !q.IncludeDeleted {
		conds = append(conds, "deleted = 0")
	}
	if q.MatterID != "" {
		conds = append(conds, "matter_id = ?")
		args = append(args, q.MatterID)
	}
	if q.State != "" {
		if _, err := model.ParseState(string(q.State)); err != nil {
			return "", nil, false, err
		}
		conds = append(conds, "state = ?")
		args = append(args, q.State)
		if q.State != model.StateSynced {
			// records_state holds only what is not synced; this term
			// lets the planner see that the list is within it.
			conds = append(conds, "state <> ?")
			args = append(args, model.StateSynced)
		}
	}
	if strings.TrimSpace(q.Text) != "" {
		match := db.searchMatch(q.Text)
		if match == "" {
			return "", nil, false, nil
		}
		conds = append(conds, "rid IN (SELECT rowid FROM records_fts WHERE records_fts MATCH ?)")
		args = append(args, match)
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, args, true, nil
}

// List returns a window of records, most recently changed first (ties:
// the greater id first).
func (db *DB) List(ctx context.Context, q ListQuery) ([]model.Record, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer db.leave()
	if err := db.searchReady(ctx, q.Text); err != nil {
		return nil, err
	}
	if q.SortField != "" {
		return db.listSorted(ctx, q)
	}
	query, args, ok, err := db.listQuery(q)
	if err != nil || !ok {
		return []model.Record{}, err
	}
	return db.queryRecords(ctx, query, args...)
}

// listSorted is List by a field's value. Fields may be sealed, so SQL
// cannot order by them: the whole filtered list is read and sorted here,
// then windowed.
func (db *DB) listSorted(ctx context.Context, q ListQuery) ([]model.Record, error) {
	col, err := db.collection(q.Collection)
	if err != nil {
		return nil, err
	}
	f, ok := col.Field(q.SortField)
	if !ok {
		return nil, fmt.Errorf("list records: %s has no field %q to sort by", col.Name, q.SortField)
	}
	all := q
	all.Offset, all.Limit, all.After = 0, 0, nil
	query, args, ok, err := db.listQuery(all)
	if err != nil || !ok {
		return []model.Record{}, err
	}
	recs, err := db.queryRecords(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(recs, func(a, b model.Record) int {
		va, vb := a.Fields[f.Name], b.Fields[f.Name]
		c := f.Compare(va, vb)
		if q.SortDesc && va != nil && vb != nil {
			c = -c
		}
		return c // ties keep List's order: last change first
	})
	from := min(max(q.Offset, 0), len(recs))
	to := len(recs)
	if q.Limit > 0 {
		to = min(from+q.Limit, to)
	}
	return recs[from:to], nil
}

// FilteredCounts counts, per listed collection, the records a list of it
// would show with q's matter, state and text filters (q.Collection is
// ignored).
func (db *DB) FilteredCounts(ctx context.Context, q ListQuery) (map[string]int, error) {
	if q.MatterID == "" && q.State == "" && strings.TrimSpace(q.Text) == "" && !q.IncludeDeleted {
		return db.CollectionCounts(ctx)
	}
	out := make(map[string]int)
	for _, name := range db.schema.Names() {
		cq := q
		cq.Collection = name
		n, err := db.Count(ctx, cq)
		if err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

// listQuery builds List's query; ok is false when it can match nothing.
func (db *DB) listQuery(q ListQuery) (query string, args []any, ok bool, err error) {
	where, args, ok, err := db.listWhere(q)
	if err != nil || !ok {
		return "", nil, ok, err
	}
	if q.After != nil {
		// The first bound lets the (…, updated_at, id) indexes, read
		// backwards, start at the key; the second leaves out the key itself
		// and the records of its time that come before it.
		at := nanos(q.After.UpdatedAt)
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += "updated_at <= ? AND (updated_at < ? OR id < ?)"
		args = append(args, at, at, q.After.ID)
	}
	query = "SELECT " + recordsSelect + " FROM records" + where + " ORDER BY updated_at DESC, id DESC"
	if q.Limit > 0 || q.Offset > 0 {
		limit := q.Limit
		if limit <= 0 {
			limit = -1
		}
		query += " LIMIT ? OFFSET ?"
		args = append(args, limit, max(q.Offset, 0))
	}
	return query, args, true, nil
}

func (db *DB) queryRecords(ctx context.Context, query string, args ...any) ([]model.Record, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list records: %w", mapErr(err))
	}
	defer rows.Close()
	out := []model.Record{}
	for rows.Next() {
		r, err := db.scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("list records: %w", mapErr(err))
		}
		out = append(out, r.record())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list records: %w", mapErr(err))
	}
	return out, nil
}

// Count counts the records List would return without a window (Offset,
// Limit and After are ignored).
func (db *DB) Count(ctx context.Context, q ListQuery) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("count records: %w", err)
	}
	defer db.leave()
	if err := db.searchReady(ctx, q.Text); err != nil {
		return 0, err
	}
	where, args, ok, err := db.listWhere(q)
	if err != nil || !ok {
		return 0, err
	}
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM records"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count records: %w", mapErr(err))
	}
	return n, nil
}

// CollectionCounts counts live records per collection; every collection of
// the schema is present.
func (db *DB) CollectionCounts(ctx context.Context) (map[string]int, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("count collections: %w", err)
	}
	defer db.leave()
	out := make(map[string]int)
	for _, name := range db.schema.Names() {
		var n int
		// One indexed count per collection: the index (collection, deleted, …) covers it.
		if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM records WHERE collection = ? AND deleted = 0", name).Scan(&n); err != nil {
			return nil, fmt.Errorf("count collections: %w", mapErr(err))
		}
		out[name] = n
	}
	return out, nil
}

// Search finds live records by full text, best match first. Every word of
// text matches as a prefix; its punctuation is never query syntax.
func (db *DB) Search(ctx context.Context, text string, limit int) ([]model.Record, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer db.leave()
	match := db.searchMatch(text)
	if match == "" {
		return []model.Record{}, nil
	}
	if err := db.catchUpSearch(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	return db.queryRecords(ctx, `SELECT `+recordSelect("r.")+` FROM records_fts f
		JOIN records r ON r.rid = f.rowid
		WHERE records_fts MATCH ? AND r.deleted = 0
		ORDER BY f.rank, r.updated_at DESC LIMIT ?`, match, limit)
}

// Outbox returns every queued op in queue order.
func (db *DB) Outbox(ctx context.Context) ([]OutboxOp, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer db.leave()
	ops, err := db.queryOps(ctx, db.r, "ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", mapErr(err))
	}
	out := make([]OutboxOp, len(ops))
	for i, o := range ops {
		out[i] = o.outboxOp()
	}
	return out, nil
}

// Status sums up the local sync state.
func (db *DB) Status(ctx context.Context) (Status, error) {
	if err := db.enter(); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	defer db.leave()
	st := Status{Counts: make(map[model.SyncState]int)}
	for _, s := range model.States {
		st.Counts[s] = 0
	}
	// records_state holds only the records that are not synced: they are
	// counted there, and the synced ones are what is left of the total,
	// counted in the same statement (one snapshot).
	rows, err := db.r.QueryContext(ctx, `SELECT state, count(*) FROM records WHERE state <> ?1 GROUP BY state
		UNION ALL SELECT ?1, count(*) FROM records`, model.StateSynced)
	if err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	synced := 0
	for rows.Next() {
		var s model.SyncState
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("status: %w", mapErr(err))
		}
		if s == model.StateSynced {
			synced += n // the total
			continue
		}
		st.Counts[s] = n
		synced -= n
	}
	rows.Close()
	st.Counts[model.StateSynced] = synced
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	var oldest sql.NullInt64
	err = db.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM conflicts), (SELECT count(*) FROM outbox),
		(SELECT count(*) FROM outbox WHERE state = ?),
		(SELECT min(created_at) FROM outbox WHERE state IN (?, ?, ?)),
		(SELECT count(*) FROM transfers t JOIN records r ON r.id = t.attachment_id AND r.deleted = 0
			WHERE t.direction = 'up' AND t.state <> 'failed'),
		(SELECT count(*) FROM transfers t JOIN records r ON r.id = t.attachment_id AND r.deleted = 0
			WHERE t.direction = 'up' AND t.state = 'failed'),
		(SELECT count(*) FROM transfers t JOIN records r ON r.id = t.attachment_id AND r.deleted = 0
			WHERE t.direction = 'down' AND t.state = 'failed')`, OpFailed, OpPending, OpSyncing, OpRetrying).
		Scan(&st.Conflicts, &st.OutboxOps, &st.FailedOps, &oldest, &st.UploadsWaiting, &st.UploadsFailed, &st.DownloadsFailed)
	if err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	st.OldestPending = fromNanos(oldest.Int64)
	cursor, err := getMeta(ctx, db.r, metaCursor)
	if err != nil {
		return st, err
	}
	st.Cursor, st.CursorErr = parseCursor(cursor)
	last, err := getMeta(ctx, db.r, metaLastSync)
	if err != nil {
		return st, err
	}
	st.LastSync, _ = time.Parse(time.RFC3339Nano, last)
	return st, nil
}

// ServerCopy is the server's copy of a record as this device holds it:
// what its queued ops stand on, and what the record shows once none is
// left.
type ServerCopy struct {
	Collection string
	Version    int64
	Deleted    bool
	Fields     model.Fields
}

// ServerCopies reads the server's copy of every record on the device the
// server has answered for (a record only this device has holds none).
// The proof harness holds each to a version the server had.
func (db *DB) ServerCopies(ctx context.Context) (map[string]ServerCopy, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("server copies: %w", err)
	}
	defer db.leave()
	// #nosec G202 -- recordsSelect is this package's constant column list.
	rows, err := db.r.QueryContext(ctx, "SELECT "+recordsSelect+" FROM records WHERE base_fields IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("server copies: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[string]ServerCopy{}
	for rows.Next() {
		r, err := db.scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("server copies: %w", err)
		}
		out[r.id] = ServerCopy{Collection: r.collection, Version: r.version, Deleted: r.baseDeleted, Fields: r.base}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("server copies: %w", mapErr(err))
	}
	return out, nil
}
