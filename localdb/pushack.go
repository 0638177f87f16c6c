package localdb

import (
	"context"
	"database/sql"
	"strconv"

	"casefile/model"
	"casefile/protocol"
)

// applySimpleAck is applyAck for an answer simpleAcks picked, from the
// batch as loaded; the op itself was already deleted. It writes what
// applyAck's setBase and recompute would: the server's copy as base and
// as the fields shown, in one statement. Its journal entry waits in the
// batch for flushJournal; its fields are the op's as the outbox holds them.
func (db *DB) applySimpleAck(ctx context.Context, tx *sql.Tx, b *pushBatch, t opText, res protocol.OpResult) error {
	op := t.opRow
	version := int64(0)
	if rec, ok := b.records[op.RecordID]; ok {
		version = res.Record.Version
		if err := db.settleRecord(ctx, tx, rec, b.conflict[rec.id], res.Record); err != nil {
			return err
		}
	}
	// The entry's after is the op's fields: where a journal entry holds
	// them (a create's), a reference to it rather than a second copy.
	var after any
	if !t.entry.Valid {
		var err error
		if after, err = t.fieldsJSON(); err != nil {
			return err
		}
	}
	row, err := db.journalRow(JournalEntry{Actor: actorSync, Kind: JournalKind(res.Result), RecordID: op.RecordID,
		Collection: op.Collection, OpID: op.OpID, Summary: ackSummary(op, res, version), Version: version}, after)
	if err != nil {
		return err
	}
	if t.entry.Valid {
		row[journalAfterCol] = entryRef + strconv.FormatInt(t.entry.Int64, 10)
	}
	b.journal = append(b.journal, row)
	return nil
}

// flushJournal writes the journal rows the simple acks left waiting, many
// to a statement, in the order they came.
func (b *pushBatch) flushJournal(ctx context.Context, tx *sql.Tx) error {
	rows := b.journal
	if len(rows) == 0 {
		return nil
	}
	b.journal = nil
	return inChunks(ctx, tx, rows, nil, journalEntryInsert, journalEntryShape, func(r *[]any) []any { return *r })
}

// settleRecord makes the server's copy r the base of a record that has no
// op queued any more, and what it shows (recompute with no ops). rec's
// fields need not be decoded: only its fieldsJSON is read.
func (db *DB) settleRecord(ctx context.Context, tx *sql.Tx, rec recordRow, conflict bool, r *protocol.Record) error {
	if r.Version < rec.version {
		// A pull overtook the answer: the row's newer base stands.
		_, _, err := db.recompute(ctx, tx, rec.id, 0)
		return err
	}
	if r.Deleted {
		// Nothing queued and no live server copy: the record goes.
		col, _ := db.schema.Collection(rec.collection)
		gone, err := tombstoneCopy(col, r, rec, true)
		if err != nil {
			return err
		}
		return db.purge(ctx, tx, rec, gone)
	}
	col, _ := db.schema.Collection(rec.collection)
	server := normalizeWire(col, r.Fields)
	bj, err := encodeFields(server)
	if err != nil {
		return err
	}
	// What recompute would show is the base as stored and read back:
	// decoded and encoded again. Canonical text comes back as it is, and
	// every string in it decodes to the string it was encoded from, so
	// the matter is read from the server's copy; other text takes the
	// round trip.
	fj, fields, matterOf := bj, model.Fields(nil), server
	if !canonicalFields(bj) {
		if fields, err = decodeFields(sql.NullString{String: bj, Valid: true}); err != nil {
			return err
		}
		if fj, err = encodeFields(fields); err != nil {
			return err
		}
		matterOf = fields
	}
	state := model.StateSynced
	if conflict {
		state = model.StateConflict
	}
	matter := model.MatterOf(rec.collection, rec.id, matterOf)
	if matter == "" {
		matter = rec.matterID
	}
	// The indexed columns (deleted, state, matter_id) are set only when
	// they change: SQLite rewrites the entries of every index on a column
	// an UPDATE sets, whether or not its value changes.
	var base any = baseSame
	if fj != bj {
		base = db.sealText(bj, recordPlace("base_fields", rec.collection, rec.id))
	}
	// Fields the same as the answer's, text for text, stay as stored (a
	// new record's stay a reference to its journal entry): the base is
	// then what they hold.
	query := `UPDATE records SET base_fields = ?, version = ?, base_deleted = 0, resync_mark = 0`
	args := []any{base, r.Version}
	if fj != rec.fieldsJSON {
		query += ", fields = ?"
		args = append(args, db.sealText(fj, recordPlace("fields", rec.collection, rec.id)))
	}
	if rec.deleted {
		query += ", deleted = 0"
	}
	if state != rec.state {
		query += ", state = ?"
		args = append(args, state)
	}
	if matter != rec.matterID {
		query += ", matter_id = ?"
		args = append(args, matter)
	}
	if _, err := tx.ExecContext(ctx, query+" WHERE rid = ?", append(args, rec.rid)...); err != nil {
		return err
	}
	if fj != rec.fieldsJSON || rec.deleted {
		if fields == nil {
			if fields, err = decodeFields(sql.NullString{String: bj, Valid: true}); err != nil {
				return err
			}
		}
		return db.index(ctx, tx, rec.rid, rec.collection, fields, false)
	}
	return nil
}
