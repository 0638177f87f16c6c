package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"casefile/model"
	"casefile/protocol"
)

// opStatesByRank lists the op states from least to most urgent: the worst
// one a record's ops have is the record's state.
var opStatesByRank = []OpState{OpPending, OpSyncing, OpRetrying, OpFailed, OpConflict}

// stateRank is each op state's place in opStatesByRank, from 1.
var stateRank = func() map[OpState]int {
	m := make(map[OpState]int, len(opStatesByRank))
	for i, s := range opStatesByRank {
		m[s] = i + 1
	}
	return m
}()

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
func (db *DB) getRow(ctx context.Context, q querier, id string) (recordRow, error) {
	r, err := db.scanRecord(q.QueryRowContext(ctx, "SELECT "+recordsSelect+" FROM records WHERE id = ?", id))
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
	rec, err := db.getRow(ctx, tx, id)
	if errors.Is(err, ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	ops, err := db.recordOps(ctx, tx, id)
	if err != nil {
		return rec, false, err
	}
	conflict, err := hasConflict(ctx, tx, id)
	if err != nil {
		return rec, false, err
	}
	if len(ops) == 0 && (rec.base == nil || rec.baseDeleted) {
		rec.deleted = true
		return rec, false, db.purge(ctx, tx, rec, goneCopy{version: rec.version, fieldsJSON: rec.baseJSON})
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
			// A create the server refused stays in sight, failed, with
			// what was typed: the person fixes it and sends it again, or
			// discards it; hiding it would hide the work.
			deleted = false
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

// writeRow stores a record's new visible fields, deletion and state, puts
// it in the search backlog when its text or deletion changed, and returns
// the row as it now is.
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
	// A base stored apart that the fields now equal becomes baseSame; a
	// baseSame base the fields leave keeps their old text, in a copy of
	// its own.
	toSame := !old.baseSame && old.baseJSON == fj
	fromSame := old.baseSame && fj != old.fieldsJSON
	if fj == old.fieldsJSON && deleted == old.deleted && state == old.state && matter == old.matterID && updated == old.updatedAt {
		if toSame {
			rec.baseSame = true
			_, err := tx.ExecContext(ctx, "UPDATE records SET base_fields = ? WHERE rid = ?", baseSame, rec.rid)
			return rec, err
		}
		return rec, nil
	}
	// Fields the same, text for text, stay as stored (a new record's stay
	// a reference to its journal entry).
	query := "UPDATE records SET deleted = ?, state = ?, matter_id = ?, updated_at = ?"
	args := []any{deleted, state, matter, updated}
	if fj != old.fieldsJSON {
		query += ", fields = ?"
		args = append(args, db.sealText(fj, recordPlace("fields", rec.collection, rec.id)))
	}
	switch {
	case toSame:
		query += ", base_fields = ?"
		args = append(args, baseSame)
		rec.baseSame = true
	case fromSame:
		query += ", base_fields = ?"
		args = append(args, db.sealText(old.fieldsJSON, recordPlace("base_fields", rec.collection, rec.id)))
		rec.baseSame = false
	}
	if _, err := tx.ExecContext(ctx, query+" WHERE rid = ?", append(args, rec.rid)...); err != nil {
		return rec, err
	}
	if fj != old.fieldsJSON || deleted != old.deleted {
		return rec, db.indexLater(ctx, tx, rec.rid)
	}
	return rec, nil
}

// goneCopy is the server's copy a record leaves the device with, as
// gone_records keeps it for an undo of the record's delete: a tombstone's
// version and fields (none when the server never had the record), or a
// record out of this user's sight, of which only the version is kept.
type goneCopy struct {
	version    int64
	fieldsJSON string // the tombstone's fields; "" when none is known
	outOfSight bool
}

// tombstoneCopy is the copy a record leaves with when a pull or the
// server's answer (answered) brought its tombstone r: the base either
// would have made (pullInto, setBase) — r's fields, or without any, the
// last copy this device had (rec's base); an answer's is never none.
func tombstoneCopy(col *model.Collection, r *protocol.Record, rec recordRow, answered bool) (goneCopy, error) {
	g := goneCopy{version: r.Version, fieldsJSON: rec.baseJSON}
	if answered && g.fieldsJSON == "" {
		g.fieldsJSON = "{}"
	}
	if len(r.Fields) > 0 || answered && r.Fields != nil {
		fj, err := encodeFields(normalizeWire(col, r.Fields))
		if err != nil {
			return g, err
		}
		g.fieldsJSON = fj
	}
	return g, nil
}

// purge removes a record row, its full-text entry and (by cascade) its
// conflict, and remembers the server's copy it leaves with (gone).
func (db *DB) purge(ctx context.Context, tx *sql.Tx, rec recordRow, gone goneCopy) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM records_fts WHERE rowid = ?", rec.rid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM records WHERE rid = ?", rec.rid); err != nil {
		return err
	}
	var fields any
	if gone.fieldsJSON != "" {
		fields = db.sealText(gone.fieldsJSON, gonePlace(rec.collection, rec.id))
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO gone_records (record_id, collection, version, out_of_sight, fields)
		VALUES (?, ?, ?, ?, ?)`, rec.id, rec.collection, gone.version, gone.outOfSight, fields)
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

// refreshStates is refreshState for many records in one statement: the
// record's state is StateConflict with an open conflict, else its worst
// op's state by opStatesByRank, else StateSynced.
func refreshStates(ctx context.Context, tx *sql.Tx, recordIDs []string) error {
	if len(recordIDs) == 0 {
		return nil
	}
	rank := make([]string, len(opStatesByRank))
	args := []any{model.StateConflict}
	for i, s := range opStatesByRank {
		rank[i] = fmt.Sprintf("WHEN ? THEN %d", i+1)
		args = append(args, s)
	}
	args = append(args, model.StateSynced, idList(recordIDs))
	// #nosec G202 -- the CASE arms are built from constants; values are bound.
	_, err := tx.ExecContext(ctx, `UPDATE records SET state = CASE
		WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.record_id = records.id) THEN ?
		ELSE COALESCE((SELECT o.state FROM outbox o WHERE o.record_id = records.id
			ORDER BY CASE o.state `+strings.Join(rank, " ")+` ELSE 0 END DESC LIMIT 1), ?) END
		WHERE id `+inIDs, args...)
	return err
}
