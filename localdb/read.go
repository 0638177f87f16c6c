package localdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// List returns a window of records, most recently changed first (ties by
// id).
func (db *DB) List(ctx context.Context, q ListQuery) ([]model.Record, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("list records: %w", err)
	}
	defer db.leave()
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
		// The first bound lets the (…, updated_at DESC, id) indexes start
		// at the key; the second leaves out the key itself and the records
		// of its time that come before it.
		at := nanos(q.After.UpdatedAt)
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += "updated_at <= ? AND (updated_at < ? OR id > ?)"
		args = append(args, at, at, q.After.ID)
	}
	query = "SELECT " + recordCols + " FROM records" + where + " ORDER BY updated_at DESC, id"
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
	if limit <= 0 {
		limit = -1
	}
	return db.queryRecords(ctx, `SELECT `+prefixCols("r.", recordCols)+` FROM records_fts f
		JOIN records r ON r.rid = f.rowid
		WHERE records_fts MATCH ? AND r.deleted = 0
		ORDER BY f.rank, r.updated_at DESC LIMIT ?`, match, limit)
}

func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}

// Journal returns journal entries, newest first.
func (db *DB) Journal(ctx context.Context, q JournalQuery) ([]JournalEntry, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer db.leave()
	var conds []string
	var args []any
	if q.RecordID != "" {
		conds = append(conds, "record_id = ?")
		args = append(args, q.RecordID)
	}
	if q.AfterSeq > 0 {
		conds = append(conds, "seq > ?")
		args = append(args, q.AfterSeq)
	}
	query := "SELECT " + journalCols + " FROM journal"
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY seq DESC"
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", mapErr(err))
	}
	defer rows.Close()
	out := []JournalEntry{}
	for rows.Next() {
		e, err := db.scanJournal(rows)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", mapErr(err))
	}
	return out, nil
}

// journalCols are the columns scanJournal reads.
const journalCols = "seq, at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version"

// scanJournal reads one journal row of journalCols, its sealed text opened.
func (db *DB) scanJournal(s rowScanner) (JournalEntry, error) {
	var e JournalEntry
	var at int64
	var before, after sql.NullString
	if err := s.Scan(&e.Seq, &at, &e.Actor, &e.Kind, &e.RecordID, &e.Collection, &e.OpID, &e.Summary, &before, &after, &e.Undoes, &e.Version); err != nil {
		return e, mapErr(err)
	}
	e.At = fromNanos(at)
	var err error
	if e.Summary, err = db.openString(e.Summary, journalPlace("summary", &e, at)); err != nil {
		return e, err
	}
	if before, err = db.openText(before, journalPlace("before", &e, at)); err != nil {
		return e, err
	}
	if after, err = db.openText(after, journalPlace("after", &e, at)); err != nil {
		return e, err
	}
	if e.Before, err = decodeFields(before); err != nil {
		return e, err
	}
	e.After, err = decodeFields(after)
	return e, err
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

const conflictCols = "record_id, collection, op_id, kind, base_version, theirs_version, fields, mine, theirs, created_at, theirs_by, theirs_at"

func (db *DB) scanConflict(s rowScanner) (model.Conflict, error) {
	var c model.Conflict
	var fields string
	var mine, theirs sql.NullString
	var created, theirsAt int64
	if err := s.Scan(&c.RecordID, &c.Collection, &c.OpID, &c.Kind, &c.BaseVersion, &c.TheirsVersion,
		&fields, &mine, &theirs, &created, &c.TheirsBy, &theirsAt); err != nil {
		return c, err
	}
	c.CreatedAt = fromNanos(created)
	if theirsAt != 0 {
		c.TheirsAt = fromNanos(theirsAt)
	}
	var err error
	if c.TheirsBy, err = db.openString(c.TheirsBy, conflictPlace("theirs_by", &c)); err != nil {
		return c, err
	}
	if fields, err = db.openString(fields, conflictPlace("fields", &c)); err != nil {
		return c, err
	}
	if mine, err = db.openText(mine, conflictPlace("mine", &c)); err != nil {
		return c, err
	}
	if theirs, err = db.openText(theirs, conflictPlace("theirs", &c)); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(fields), &c.Fields); err != nil {
		return c, fmt.Errorf("decode conflict fields: %w", err)
	}
	for i := range c.Fields {
		fc := &c.Fields[i]
		fc.Base, fc.Mine, fc.Theirs = normalizeAny(fc.Base), normalizeAny(fc.Mine), normalizeAny(fc.Theirs)
	}
	if c.Mine, err = decodeFields(mine); err != nil {
		return c, err
	}
	c.Theirs, err = decodeFields(theirs)
	return c, err
}

// normalizeAny turns a decoded JSON list of strings into []string.
func normalizeAny(v any) any {
	if list, ok := v.([]any); ok {
		tags := make([]string, 0, len(list))
		for _, e := range list {
			if s, ok := e.(string); ok {
				tags = append(tags, s)
			}
		}
		return tags
	}
	return v
}

// Conflicts returns every open conflict, oldest first.
func (db *DB) Conflicts(ctx context.Context) ([]model.Conflict, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	defer db.leave()
	rows, err := db.r.QueryContext(ctx, "SELECT "+conflictCols+" FROM conflicts ORDER BY created_at, record_id")
	if err != nil {
		return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
	}
	defer rows.Close()
	out := []model.Conflict{}
	for rows.Next() {
		c, err := db.scanConflict(rows)
		if err != nil {
			return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
	}
	return out, nil
}

// Conflict returns the open conflict of one record.
func (db *DB) Conflict(ctx context.Context, recordID string) (model.Conflict, error) {
	if err := db.enter(); err != nil {
		return model.Conflict{}, fmt.Errorf("read conflict: %w", err)
	}
	defer db.leave()
	return db.getConflict(ctx, db.r, recordID)
}

func (db *DB) getConflict(ctx context.Context, q querier, recordID string) (model.Conflict, error) {
	c, err := db.scanConflict(q.QueryRowContext(ctx, "SELECT "+conflictCols+" FROM conflicts WHERE record_id = ?", recordID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("record %s: %w", recordID, ErrConflict)
	}
	if err != nil {
		return c, fmt.Errorf("read conflict: %w", mapErr(err))
	}
	return c, nil
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
	rows, err := db.r.QueryContext(ctx, "SELECT state, count(*) FROM records GROUP BY state")
	if err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	for rows.Next() {
		var s model.SyncState
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("status: %w", mapErr(err))
		}
		st.Counts[s] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	var oldest sql.NullInt64
	err = db.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM conflicts), (SELECT count(*) FROM outbox),
		(SELECT min(created_at) FROM outbox WHERE state IN (?, ?, ?))`, OpPending, OpSyncing, OpRetrying).
		Scan(&st.Conflicts, &st.OutboxOps, &oldest)
	if err != nil {
		return st, fmt.Errorf("status: %w", mapErr(err))
	}
	st.OldestPending = fromNanos(oldest.Int64)
	cursor, err := getMeta(ctx, db.r, metaCursor)
	if err != nil {
		return st, err
	}
	st.Cursor, _ = strconv.ParseInt(cursor, 10, 64)
	last, err := getMeta(ctx, db.r, metaLastSync)
	if err != nil {
		return st, err
	}
	st.LastSync, _ = time.Parse(time.RFC3339Nano, last)
	return st, nil
}

// Meta keys the sync side keeps.
const (
	metaCursor   = "cursor"    // the server's pull cursor, as a decimal
	metaLastSync = "last_sync" // RFC 3339 time of the last applied pull
	metaResync   = MetaResync
)

// MetaServerHead is the setting that holds the highest change sequence
// the server has told this device (in push, pull and health answers), as
// a decimal. It only grows.
const MetaServerHead = "server_head"

// MetaResync is the setting that reads "1" while a full resync runs: the
// syncer's pulls then read everything, whatever the compaction mark.
const MetaResync = "resync"

// Meta reads a sync setting ("" when unset).
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	if err := db.enter(); err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	defer db.leave()
	return getMeta(ctx, db.r, key)
}

func getMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, mapErr(err))
	}
	return v, nil
}

// NoteHead records a change sequence the server said it had reached, if
// it is the highest yet: an op sent from now on is answered no lower.
func (db *DB) NoteHead(ctx context.Context, head int64) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("note server head: %w", err)
	}
	defer db.leave()
	if err := db.tx(ctx, func(tx *sql.Tx) error { return raiseHead(ctx, tx, head) }); err != nil {
		return fmt.Errorf("note server head: %w", err)
	}
	return nil
}

// knownHead is the highest change sequence the server has told this device.
func knownHead(ctx context.Context, q querier) (int64, error) {
	v, err := getMeta(ctx, q, MetaServerHead)
	if err != nil {
		return 0, err
	}
	head, _ := strconv.ParseInt(v, 10, 64)
	return head, nil
}

func raiseHead(ctx context.Context, q querier, head int64) error {
	old, err := knownHead(ctx, q)
	if err != nil || head <= old {
		return err
	}
	return setMeta(ctx, q, MetaServerHead, strconv.FormatInt(head, 10))
}

// SetMeta writes a sync setting.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	defer db.leave()
	if key == "" {
		return errors.New("set setting: the key is empty")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return setMeta(ctx, tx, key, value) })
	if err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	return nil
}

func setMeta(ctx context.Context, q querier, key, value string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}
