package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"casefile/internal/fieldtext"
	"casefile/model"
	"casefile/server/store"
)

// txn is a read snapshot or a write transaction.
type txn struct {
	q     querier
	d     *Dialect
	hints []store.Hint
	depth int   // savepoints open
	lost  error // set when the transaction cannot commit any more
	head  *headCache
	// began is when a write transaction began holding the write lock
	// (DB.TimeWrites).
	began time.Time
	// pending are the ledger and audit rows written but not yet sent.
	pending pendingRows
	// begin, while set, begins the transaction, takes the head's lock
	// and fills the head cache, sending query with them when it is not
	// "" and calling row for each of its rows (see writeOnConn).
	begin func(ctx context.Context, query string, args []any, row func(scanner) error) error
	// lockGen is the access generation read with the head's lock (see
	// AccessGenAtStart), when lockGenRead is set.
	lockGen     int64
	lockGenRead bool
}

// begun begins the transaction if it waits for its first statement.
func (t *txn) begun(ctx context.Context) error {
	begin := t.begin
	if begin == nil {
		return nil
	}
	t.begin = nil
	return begin(ctx, "", nil, nil)
}

func (t *txn) Notify(h store.Hint) { t.hints = append(t.hints, h) }

func (t *txn) mapErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return mapErr(t.d, err)
}

func (t *txn) Head(ctx context.Context) (store.Head, error) {
	c, err := t.cachedHead(ctx)
	if err != nil {
		return store.Head{}, err
	}
	return store.Head{Seq: c.seq, CompactedThrough: c.compactedThrough, LedgerThrough: c.ledgerThrough,
		AuditRows: c.auditN, AuditHash: c.auditHash}, nil
}

func (t *txn) NextSeq(ctx context.Context) (int64, error) {
	h, err := t.cachedHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("next seq: %w", err)
	}
	h.seq++
	h.dirty = true
	return h.seq, nil
}

const recordCols = `id, collection, matter_id, version, seq, deleted, fields, field_versions, created_by, created_at, updated_by, updated_at, field_changes`

type scanner interface{ Scan(dest ...any) error }

func scanRecord(s scanner) (store.Record, error) {
	var r store.Record
	var fields, versions, changes string
	var created, updated int64
	err := s.Scan(&r.ID, &r.Collection, &r.MatterID, &r.Version, &r.Seq, &r.Deleted,
		&fields, &versions, &r.CreatedBy, &created, &r.UpdatedBy, &updated, &changes)
	if err != nil {
		return r, err
	}
	if r.Fields, err = decodeFields(fields); err != nil {
		return r, fmt.Errorf("record %s fields: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(versions), &r.FieldVersions); err != nil {
		return r, fmt.Errorf("record %s field versions: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(changes), &r.FieldChanges); err != nil {
		return r, fmt.Errorf("record %s field changes: %w", r.ID, err)
	}
	if len(r.FieldChanges) == 0 {
		r.FieldChanges = nil
	}
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, nil
}

// decodeFields reads stored JSON back into normalised values: JSON arrays
// (tags) become []string.
func decodeFields(s string) (model.Fields, error) {
	var f model.Fields
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return nil, err
	}
	if f == nil {
		f = model.Fields{}
	}
	for k, v := range f {
		if list, ok := v.([]any); ok {
			tags := make([]string, 0, len(list))
			for _, e := range list {
				s, _ := e.(string)
				tags = append(tags, s)
			}
			f[k] = tags
		}
	}
	return f, nil
}

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

func (t *txn) Record(ctx context.Context, id string) (store.Record, error) {
	if r, ok, err := t.pending.written(id); ok {
		return r, err
	}
	if t.pending.recordAbsent[id] {
		return store.Record{}, fmt.Errorf("read record: %w", store.ErrNotFound)
	}
	if r, ok := t.pending.records[id]; ok {
		delete(t.pending.records, id)
		return r, nil
	}
	r, err := scanRecord(t.q.QueryRow(ctx, `SELECT `+recordCols+` FROM records WHERE id = $1`, id))
	if err != nil {
		return r, fmt.Errorf("read record: %w", t.mapErr(err))
	}
	return r, nil
}

func (t *txn) MatterHolds(ctx context.Context, matterID string) (map[string]int64, error) {
	if err := t.flushRecords(ctx); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, `SELECT collection, COUNT(*) FROM records
		WHERE matter_id = $1 AND id <> $1 AND NOT deleted GROUP BY collection`, matterID)
	if err != nil {
		return nil, fmt.Errorf("count a matter's records: %w", t.mapErr(err))
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, fmt.Errorf("count a matter's records: %w", t.mapErr(err))
		}
		out[c] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count a matter's records: %w", t.mapErr(err))
	}
	return out, nil
}

func (t *txn) PutRecord(ctx context.Context, r store.Record) error {
	fj, vj, cj, err := encodeRecordJSON(r)
	if err != nil {
		return err
	}
	// created_seq is set by the insert only: an update or a restore keeps
	// the seq at which the row first existed (see Removals). changed_seq
	// is the seq of this change, which a grant's renumbering (BumpMatter)
	// keeps: compaction goes by it (see Compact).
	// The row waits with the transaction's others (flushRecords): with
	// PostgreSQL a statement per op was a round trip per op while the
	// transaction held the head's lock.
	delete(t.pending.recordAbsent, r.ID)
	delete(t.pending.records, r.ID)
	t.pending.addWrite([]any{r.ID, r.Collection, r.MatterID, r.Version, r.Seq, r.Deleted, fj, vj,
		r.CreatedBy, r.CreatedAt.UnixMicro(), r.UpdatedBy, r.UpdatedAt.UnixMicro(), cj})
	return nil
}

// recordJSONSize is room for most records' fields, field versions and
// field changes as JSON.
const recordJSONSize = 512

// encodeRecordJSON returns the JSON of a record's fields, field versions
// and field changes as its row holds them, byte for byte what json.Marshal
// writes for them: an absent map as {}, and each change's time to the
// microsecond, as every other time of the store. The three are encoded
// into one buffer and made one string, cut in three.
func encodeRecordJSON(r store.Record) (fields, versions, changes string, err error) {
	f := r.Fields
	if f == nil {
		f = model.Fields{}
	}
	b, err := fieldtext.AppendObject(make([]byte, 0, recordJSONSize), f)
	if err != nil {
		return "", "", "", fmt.Errorf("encode fields: %w", err)
	}
	nf := len(b)
	v := r.FieldVersions
	if v == nil {
		v = map[string]int64{}
	}
	b, _ = fieldtext.AppendMap(b, v, appendInt)
	nv := len(b)
	c := r.FieldChanges
	if c == nil {
		c = map[string]store.FieldChange{}
	}
	if b, err = fieldtext.AppendMap(b, c, appendFieldChange); err != nil {
		return "", "", "", fmt.Errorf("encode field changes: %w", err)
	}
	s := string(b)
	return s[:nf], s[nf:nv], s[nv:], nil
}

func appendInt(b []byte, v int64) ([]byte, error) { return strconv.AppendInt(b, v, 10), nil }

// appendFieldChange appends ch's JSON, its time to the microsecond.
func appendFieldChange(b []byte, ch store.FieldChange) ([]byte, error) {
	b = fieldtext.AppendString(append(b, `{"by":`...), ch.By)
	b, err := fieldtext.AppendTime(append(b, `,"at":`...), fromMicro(ch.At.UnixMicro()))
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// recordWriteCols are the values of a record row flushRecords sends:
// recordCols, then created_seq and changed_seq.
var recordWriteCols = [...]string{"id", "collection", "matter_id", "version", "seq", "deleted", "fields", "field_versions",
	"created_by", "created_at", "updated_by", "updated_at", "field_changes", "created_seq", "changed_seq"}

// recordUpsert makes a record row's insert replace the row of its id;
// created_seq is set by the insert only: an update or a restore keeps the
// seq at which the row first existed (see Removals).
const recordUpsert = ` ON CONFLICT (id) DO UPDATE SET collection = excluded.collection, matter_id = excluded.matter_id,
	version = excluded.version, seq = excluded.seq, changed_seq = excluded.changed_seq, deleted = excluded.deleted, fields = excluded.fields,
	field_versions = excluded.field_versions, created_by = excluded.created_by, created_at = excluded.created_at,
	updated_by = excluded.updated_by, updated_at = excluded.updated_at, field_changes = excluded.field_changes`

func (t *txn) BumpMatter(ctx context.Context, matterID string) (int64, int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, 0, err
	}
	clear(t.pending.records) // their seqs move
	var n int64
	if err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM records WHERE matter_id = $1`, matterID).Scan(&n); err != nil {
		return 0, 0, fmt.Errorf("count matter records: %w", t.mapErr(err))
	}
	if n == 0 {
		return 0, 0, nil
	}
	var last int64
	if err := t.q.QueryRow(ctx, `UPDATE head SET seq = seq + $1 WHERE id = 1 RETURNING seq`, n).Scan(&last); err != nil {
		return 0, 0, fmt.Errorf("take seqs: %w", t.mapErr(err))
	}
	// Every new seq is above the old head, so no row collides with another
	// while the update runs.
	_, err := t.q.ExecContext(ctx, `UPDATE records SET seq = $1 + s.rn
		FROM (SELECT id, row_number() OVER (ORDER BY seq) AS rn FROM records WHERE matter_id = $2) AS s
		WHERE records.id = s.id`, last-n, matterID)
	if err != nil {
		return 0, 0, fmt.Errorf("bump matter records: %w", t.mapErr(err))
	}
	return n, last, nil
}

func (t *txn) AddMove(ctx context.Context, m store.Move) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO moves (seq, record_id, from_matter, to_matter, at) VALUES ($1, $2, $3, $4, $5)`,
		m.Seq, m.RecordID, m.FromMatter, m.ToMatter, m.At.UnixMicro())
	if err != nil {
		return fmt.Errorf("write move: %w", t.mapErr(err))
	}
	return nil
}

func (t *txn) Removals(ctx context.Context, q store.ChangeQuery) ([]store.Removal, error) {
	if err := t.flushRecords(ctx); err != nil {
		return nil, err
	}
	// An admin sees everything.
	if q.All {
		return nil, nil
	}
	// Every move in range of a record now out of the user's sight, out of
	// a matter the user was ever a member of, with when its row was
	// inserted.
	rows, err := t.q.QueryContext(ctx, `SELECT m.seq, m.record_id, m.from_matter, r.created_seq
		FROM moves m JOIN records r ON r.id = m.record_id
		WHERE m.seq > $1 AND m.seq <= $2
		AND (m.from_matter IN (SELECT matter_id FROM members WHERE user_name = $3)
			OR m.from_matter IN (SELECT matter_id FROM access_events WHERE user_name = $3))
		AND r.matter_id NOT IN (SELECT matter_id FROM members WHERE user_name = $3)
		ORDER BY m.seq`, q.After, q.UpTo, q.User)
	if err != nil {
		return nil, fmt.Errorf("read removals: %w", t.mapErr(err))
	}
	type move struct {
		seq, created int64
		r            store.Removal
	}
	var cands []move
	for rows.Next() {
		var m move
		if err := rows.Scan(&m.seq, &m.r.ID, &m.r.MatterID, &m.created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read removals: %w", err)
		}
		cands = append(cands, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read removals: %w", t.mapErr(err))
	}
	// A record is named only if the user could see it at some moment in
	// range, so the client may hold it (from a pull, or from its own
	// push's answer): while it sat in the matter this move takes it out
	// of, between the cursor (or its arrival there, if later) and the
	// move, the user was a member of that matter. Anything else, such as
	// a record created in a matter after the user lost it, would be
	// revealed.
	var out []store.Removal
	named := map[string]bool{}
	for _, m := range cands {
		if named[m.r.ID] {
			continue
		}
		var prev int64
		if err := t.q.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM moves WHERE record_id = $1 AND seq < $2`,
			m.r.ID, m.seq).Scan(&prev); err != nil {
			return nil, fmt.Errorf("read removals: %w", t.mapErr(err))
		}
		from := max(q.After, m.created, prev)
		held, err := t.memberAt(ctx, q.User, m.r.MatterID, from+1)
		if err != nil {
			return nil, err
		}
		if !held {
			var one int
			err := t.q.QueryRow(ctx, `SELECT 1 FROM access_events WHERE user_name = $1 AND matter_id = $2
				AND kind = $3 AND seq > $4 AND seq < $5 LIMIT 1`, q.User, m.r.MatterID, store.AccessGrant, from, m.seq).Scan(&one)
			switch {
			case err == nil:
				held = true
			case !errors.Is(err, sql.ErrNoRows):
				return nil, fmt.Errorf("read access history: %w", t.mapErr(err))
			}
		}
		if held {
			named[m.r.ID] = true
			out = append(out, m.r)
		}
	}
	return out, nil
}

// memberAt reports whether the user was a member of the matter after every
// access event before seq, from the events around it; with none left
// (compacted, or never any) the membership never changed and today's
// answer holds.
func (t *txn) memberAt(ctx context.Context, user, matterID string, seq int64) (bool, error) {
	var kind string
	err := t.q.QueryRow(ctx, `SELECT kind FROM access_events WHERE user_name = $1 AND matter_id = $2 AND seq < $3
		ORDER BY seq DESC LIMIT 1`, user, matterID, seq).Scan(&kind)
	if err == nil {
		return kind == store.AccessGrant, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read access history: %w", t.mapErr(err))
	}
	err = t.q.QueryRow(ctx, `SELECT kind FROM access_events WHERE user_name = $1 AND matter_id = $2 AND seq >= $3
		ORDER BY seq LIMIT 1`, user, matterID, seq).Scan(&kind)
	if err == nil {
		return kind == store.AccessRevoke, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read access history: %w", t.mapErr(err))
	}
	return t.IsMember(ctx, user, matterID)
}

func (t *txn) Ledger(ctx context.Context, opID string) (store.LedgerEntry, error) {
	if e, ok := t.pending.findLedger(opID); ok {
		return e, nil
	}
	if t.pending.absent[opID] {
		return store.LedgerEntry{OpID: opID}, fmt.Errorf("read ledger: %w", store.ErrNotFound)
	}
	e := store.LedgerEntry{OpID: opID}
	var at int64
	var result string
	err := t.q.QueryRow(ctx, `SELECT user_name, device, at, result, seq FROM ledger WHERE op_id = $1`, opID).
		Scan(&e.User, &e.Device, &at, &result, &e.Seq)
	if err != nil {
		err = t.mapErr(err)
		if errors.Is(err, store.ErrNotFound) {
			t.pending.noteAbsent(opID)
		}
		return e, fmt.Errorf("read ledger: %w", err)
	}
	e.At, e.Result = fromMicro(at), []byte(result)
	return e, nil
}

func (t *txn) PutLedger(ctx context.Context, e store.LedgerEntry) error {
	h, err := t.cachedHead(ctx)
	if err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	if _, ok := t.pending.findLedger(e.OpID); ok {
		return fmt.Errorf("write ledger: %w: op %s", store.ErrDuplicate, e.OpID)
	}
	if t.pending.takeAbsent(e.OpID) {
		// Read as absent in this transaction, which holds the write lock:
		// the row cannot be a duplicate, so it can wait for the flush.
		t.pending.addLedger(e, h.seq)
		return nil
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO ledger (op_id, user_name, device, at, result, seq)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		e.OpID, e.User, e.Device, e.At.UnixMicro(), string(e.Result), h.seq)
	if err != nil {
		return fmt.Errorf("write ledger: %w", t.mapErr(err))
	}
	return nil
}
