package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"casefile/model"
	"casefile/protocol"
)

// querier is what a *sql.Tx and a *sql.DB share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// opRow is one row of the outbox as stored.
type opRow struct {
	seq int64
	model.Op
	baseValues  model.Fields
	state       OpState
	attempts    int
	lastError   string
	errorCode   string
	nextAttempt int64
	createdAt   int64
	updatedAt   int64
	// sentSince is the pull cursor before the first attempt that may have
	// reached the server (NULL: none may have); attemptSince the cursor
	// before the attempt in flight. model.Op's Resent and SentSince, as
	// sent, come from sentSince.
	sentSince, attemptSince sql.NullInt64
}

const opCols = "seq, op_id, record_id, collection, kind, fields, base_values, base_version, state, attempts, last_error, error_code, next_attempt, created_at, updated_at, sent_since, attempt_since"

func scanOp(s rowScanner) (opRow, error) {
	var o opRow
	var fields, base sql.NullString
	if err := s.Scan(&o.seq, &o.OpID, &o.RecordID, &o.Collection, &o.Kind, &fields, &base, &o.BaseVersion,
		&o.state, &o.attempts, &o.lastError, &o.errorCode, &o.nextAttempt, &o.createdAt, &o.updatedAt,
		&o.sentSince, &o.attemptSince); err != nil {
		return o, err
	}
	o.Resent, o.SentSince = o.sentSince.Valid, o.sentSince.Int64
	var err error
	if o.Fields, err = decodeFields(fields); err != nil {
		return o, err
	}
	o.baseValues, err = decodeFields(base)
	return o, err
}

// outboxOp is the row as callers see it.
func (o opRow) outboxOp() OutboxOp {
	return OutboxOp{
		Seq:         o.seq,
		Op:          o.Op,
		State:       o.state,
		Attempts:    o.attempts,
		LastError:   o.lastError,
		ErrorCode:   o.errorCode,
		NextAttempt: fromNanos(o.nextAttempt),
		CreatedAt:   fromNanos(o.createdAt),
		UpdatedAt:   fromNanos(o.updatedAt),
	}
}

func queryOps(ctx context.Context, q querier, where string, args ...any) ([]opRow, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+opCols+" FROM outbox "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ops []opRow
	for rows.Next() {
		o, err := scanOp(rows)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o)
	}
	return ops, rows.Err()
}

// recordOps returns a record's ops in queue order.
func recordOps(ctx context.Context, q querier, recordID string) ([]opRow, error) {
	return queryOps(ctx, q, "WHERE record_id = ? ORDER BY seq", recordID)
}

// getOp returns one op by id, or ErrNoOp.
func getOp(ctx context.Context, q querier, opID string) (opRow, error) {
	o, err := scanOp(q.QueryRowContext(ctx, "SELECT "+opCols+" FROM outbox WHERE op_id = ?", opID))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("op %s: %w", opID, ErrNoOp)
	}
	return o, err
}

// insertOp queues an op; a non-zero seq puts it back at that place in the queue.
func insertOp(ctx context.Context, q querier, o opRow) error {
	fields, err := encodeNullable(o.Fields)
	if err != nil {
		return err
	}
	base, err := encodeNullable(o.baseValues)
	if err != nil {
		return err
	}
	var seq any
	if o.seq != 0 {
		seq = o.seq
	}
	_, err = q.ExecContext(ctx, "INSERT INTO outbox ("+opCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		seq, o.OpID, o.RecordID, o.Collection, o.Kind, fields, base, o.BaseVersion,
		o.state, o.attempts, o.lastError, o.errorCode, o.nextAttempt, o.createdAt, o.updatedAt, o.sentSince, o.attemptSince)
	return err
}

// saveOp writes back every mutable column of an op, by seq.
func saveOp(ctx context.Context, q querier, o opRow) error {
	fields, err := encodeNullable(o.Fields)
	if err != nil {
		return err
	}
	base, err := encodeNullable(o.baseValues)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE outbox SET op_id = ?, kind = ?, fields = ?, base_values = ?, base_version = ?,
		state = ?, attempts = ?, last_error = ?, error_code = ?, next_attempt = ?, updated_at = ?, sent_since = ?, attempt_since = ?
		WHERE seq = ?`,
		o.OpID, o.Kind, fields, base, o.BaseVersion, o.state, o.attempts, o.lastError, o.errorCode,
		o.nextAttempt, o.updatedAt, o.sentSince, o.attemptSince, o.seq)
	return err
}

func deleteOp(ctx context.Context, q querier, seq int64) error {
	_, err := q.ExecContext(ctx, "DELETE FROM outbox WHERE seq = ?", seq)
	return err
}

// heldBack reports an op failed here rather than by the server — its
// record left the device (access_revoked, gone) — after an attempt that
// may have reached the server: its id may have taken effect, so it is
// sent again under that id (the server answers from its ledger), never
// folded into or renewed.
func (o opRow) heldBack() bool {
	return o.state == OpFailed && (o.errorCode == CodeAccessRevoked || o.errorCode == CodeGone) && o.sentSince.Valid
}

// resetFailed gives a failed op a new id and puts it back in the queue: the
// server remembers its answer to the old id and would only replay it.
func resetFailed(o *opRow, now int64) {
	o.OpID = model.NewID()
	o.state = OpPending
	o.attempts = 0
	o.Resent, o.SentSince = false, 0
	o.sentSince, o.attemptSince = sql.NullInt64{}, sql.NullInt64{}
	o.lastError, o.errorCode = "", ""
	o.nextAttempt = 0
	o.updatedAt = now
}

// coalesced says what enqueue did with a change.
type coalesced int

const (
	queuedNew coalesced = iota // a new op behind the others
	foldedIn                   // merged into the last, never-sent op
	refolded                   // merged into a failed op, which got a new id
	cancelled                  // a delete cancelled a create the server never applied
)

// enqueue queues a user's change of rec. Edits coalesce into the record's
// last op only while it has never been sent (pending, no attempt), or when
// the server refused it (failed): an op that was sent has a burnt id, since
// the server answers a replayed id with its first answer, so later edits
// queue behind it. So do edits after an op whose outcome the server could
// not tell (outcome_unknown): it may have taken effect, and folding into it
// would send it again, or let a delete cancel a create the server has.
// The first base value of each field is kept.
func enqueue(ctx context.Context, tx *sql.Tx, rec recordRow, kind model.OpKind, changes, baseValues model.Fields, now int64) (opRow, coalesced, error) {
	ops, err := recordOps(ctx, tx, rec.id)
	if err != nil {
		return opRow{}, 0, err
	}
	if n := len(ops); n > 0 {
		last := ops[n-1]
		failed := last.state == OpFailed && last.errorCode != protocol.CodeOutcomeUnknown && !last.heldBack()
		if failed || (last.state == OpPending && last.attempts == 0) {
			how := foldedIn
			if failed {
				how = refolded
			}
			switch {
			case kind == model.OpDelete && last.Kind == model.OpCreate:
				// The server never applied the create: both vanish.
				return last, cancelled, deleteOp(ctx, tx, last.seq)
			case kind == model.OpDelete:
				last.Kind, last.Fields = model.OpDelete, nil
			case last.Kind == model.OpCreate:
				last.Fields = overlay(last.Fields.Clone(), changes)
			case last.Kind == model.OpDelete:
				// Only a failed delete can be edited past: the edit replaces it.
				last.Kind, last.Fields, last.baseValues = model.OpUpdate, changes.Clone(), baseValues.Clone()
			default:
				if last.Fields == nil {
					last.Fields = model.Fields{}
				}
				if last.baseValues == nil {
					last.baseValues = model.Fields{}
				}
				for k, v := range changes {
					last.Fields[k] = v
					if _, seen := last.baseValues[k]; !seen {
						last.baseValues[k] = baseValues[k]
					}
				}
			}
			if failed {
				resetFailed(&last, now)
			}
			last.updatedAt = now
			return last, how, saveOp(ctx, tx, last)
		}
	}
	o := opRow{
		Op: model.Op{OpID: model.NewID(), RecordID: rec.id, Collection: rec.collection, Kind: kind,
			Fields: changes, BaseVersion: rec.version},
		baseValues: baseValues,
		state:      OpPending,
		createdAt:  now,
		updatedAt:  now,
	}
	return o, queuedNew, insertOp(ctx, tx, o)
}

// stateRank orders record states: the worst one an op has is the record's.
var stateRank = map[OpState]int{OpPending: 1, OpSyncing: 2, OpRetrying: 3, OpFailed: 4, OpConflict: 5}

// deriveState is a record's state from its ops and its open conflict:
// conflict > failed > retrying > syncing > pending > synced.
func deriveState(ops []opRow, hasConflict bool) model.SyncState {
	if hasConflict {
		return model.StateConflict
	}
	worst := OpState("")
	for _, o := range ops {
		if stateRank[o.state] > stateRank[worst] {
			worst = o.state
		}
	}
	if worst == "" {
		return model.StateSynced
	}
	return model.SyncState(worst)
}

func hasConflict(ctx context.Context, q querier, recordID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM conflicts WHERE record_id = ?", recordID).Scan(&n)
	return n > 0, err
}

// getRow returns one record row, or ErrNotFound.
func getRow(ctx context.Context, q querier, id string) (recordRow, error) {
	r, err := scanRecord(q.QueryRowContext(ctx, "SELECT "+recordCols+" FROM records WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return r, err
}

// recompute rebuilds what the user sees of a record from the server's copy
// and its queued ops — fields = base overlaid by the ops in queue order,
// failed ones left out unless the server never had the record — and its
// state. A record left with no op and no live server copy is purged. touch,
// when non-zero, is the new updated_at. It reports whether the row remains.
func (db *DB) recompute(ctx context.Context, tx *sql.Tx, id string, touch int64) (recordRow, bool, error) {
	rec, err := getRow(ctx, tx, id)
	if errors.Is(err, ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	ops, err := recordOps(ctx, tx, id)
	if err != nil {
		return rec, false, err
	}
	conflict, err := hasConflict(ctx, tx, id)
	if err != nil {
		return rec, false, err
	}
	if len(ops) == 0 && (rec.base == nil || rec.baseDeleted) {
		rec.deleted = true
		return rec, false, purge(ctx, tx, rec)
	}
	fields, deleted := model.Fields{}, true
	if rec.base != nil {
		fields, deleted = rec.base.Clone(), rec.baseDeleted
	}
	for _, o := range ops {
		shown := o.state != OpFailed
		if !shown && rec.base != nil {
			continue
		}
		switch o.Kind {
		case model.OpCreate:
			fields = overlay(model.Fields{}, o.Fields.Clone())
			if shown {
				deleted = false
			}
		case model.OpUpdate:
			fields = overlay(fields, o.Fields.Clone())
		case model.OpDelete:
			if shown {
				deleted = true
			}
		}
	}
	rec, err = db.writeRow(ctx, tx, rec, fields, deleted, deriveState(ops, conflict), touch)
	return rec, err == nil, err
}

// writeRow stores a record's new visible fields, deletion and state, keeps
// its full-text entry in step and returns the row as it now is.
func (db *DB) writeRow(ctx context.Context, tx *sql.Tx, rec recordRow, fields model.Fields, deleted bool, state model.SyncState, touch int64) (recordRow, error) {
	fj, err := encodeFields(fields)
	if err != nil {
		return rec, err
	}
	matter := model.MatterOf(rec.collection, rec.id, fields)
	if matter == "" {
		matter = rec.matterID
	}
	updated := rec.updatedAt
	if touch != 0 {
		updated = touch
	}
	old := rec
	rec.fields, rec.fieldsJSON, rec.deleted, rec.state, rec.matterID, rec.updatedAt = fields, fj, deleted, state, matter, updated
	if fj == old.fieldsJSON && deleted == old.deleted && state == old.state && matter == old.matterID && updated == old.updatedAt {
		return rec, nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE records SET fields = ?, deleted = ?, state = ?, matter_id = ?, updated_at = ? WHERE rid = ?",
		fj, deleted, state, matter, updated, rec.rid); err != nil {
		return rec, err
	}
	if fj != old.fieldsJSON || deleted != old.deleted {
		return rec, db.index(ctx, tx, rec.rid, rec.collection, fields, deleted)
	}
	return rec, nil
}

// index replaces a record's full-text entry; tombstones have none.
func (db *DB) index(ctx context.Context, tx *sql.Tx, rid int64, collection string, fields model.Fields, deleted bool) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM records_fts WHERE rowid = ?", rid); err != nil {
		return err
	}
	if deleted {
		return nil
	}
	col, _ := db.schema.Collection(collection)
	if text := searchText(col, fields); text != "" {
		if _, err := tx.ExecContext(ctx, "INSERT INTO records_fts (rowid, body) VALUES (?, ?)", rid, text); err != nil {
			return err
		}
	}
	return nil
}

// purge removes a record row, its full-text entry and (by cascade) its conflict.
func purge(ctx context.Context, tx *sql.Tx, rec recordRow) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM records_fts WHERE rowid = ?", rec.rid); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM records WHERE rid = ?", rec.rid)
	return err
}

// refreshState recomputes only a record's state, for changes that leave
// its fields alone (an op handed to the syncer, a retry scheduled).
func refreshState(ctx context.Context, tx *sql.Tx, recordID string) error {
	rows, err := tx.QueryContext(ctx, "SELECT state FROM outbox WHERE record_id = ?", recordID)
	if err != nil {
		return err
	}
	var ops []opRow
	for rows.Next() {
		var o opRow
		if err := rows.Scan(&o.state); err != nil {
			rows.Close()
			return err
		}
		ops = append(ops, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	conflict, err := hasConflict(ctx, tx, recordID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE records SET state = ? WHERE id = ? AND state != ?",
		deriveState(ops, conflict), recordID, deriveState(ops, conflict))
	return err
}

// journal appends one entry; At defaults to now.
func (db *DB) journal(ctx context.Context, q querier, e JournalEntry) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	before, err := encodeNullable(e.Before)
	if err != nil {
		return err
	}
	after, err := encodeNullable(e.After)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nanos(e.At), e.Actor, e.Kind, e.RecordID, e.Collection, e.OpID, e.Summary, before, after)
	return err
}
