package localdb

import (
	"context"
	"database/sql"

	"casefile/model"
)

// redactLeft takes the values (before and after) out of the journal
// entries of each record id that left this device out of its user's
// sight (gone_records.out_of_sight: its matter lost, the record moved
// out of sight, or no longer shown by a full resync) and is not back:
// the server keeps it where this user may no longer look, and the device
// must not keep a readable copy in its history either (an ethical wall
// put up around a matter holds on the laptops of those walled off). The
// entries stay, with their times, kinds and summaries (which name fields,
// never values). An entry an op still in the outbox names for its fields
// (outbox.fields_entry) keeps them: that op is the user's own unsent work,
// kept as failed until it is exported or discarded, and its discard
// takes them then. An entry's after that names another entry (entryRef)
// names one of the same record's, so no entry of a record still here
// loses what it refers to.
func (db *DB) redactLeft(ctx context.Context, tx *sql.Tx, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	// One statement for all of them: a lost matter's records are many.
	_, err := tx.ExecContext(ctx, `UPDATE journal SET before = NULL, after = NULL
		WHERE record_id IN (SELECT g.record_id FROM gone_records g
			WHERE g.record_id `+inIDs+` AND g.out_of_sight = 1
			AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = g.record_id))
		AND (before IS NOT NULL OR after IS NOT NULL)
		AND seq NOT IN (SELECT fields_entry FROM outbox WHERE fields_entry IS NOT NULL)`, idList(ids))
	return err
}

// leaveSightWith marks the records that left this device before their
// matter did (deleted on the server, their tombstones pulled) as out of
// the user's sight now: gone_records forgets their tombstone's copy, and
// the journal their values. An undo of such a delete then says nothing
// can come back, as the server would refuse it. lost says whether a
// matter is one the user lost.
func (db *DB) leaveSightWith(ctx context.Context, tx *sql.Tx, lost func(matter string) bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT g.record_id, g.collection, g.fields FROM gone_records g
		WHERE g.out_of_sight = 0 AND g.fields IS NOT NULL AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = g.record_id)`)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id, collection string
		var stored sql.NullString
		if err := rows.Scan(&id, &collection, &stored); err != nil {
			rows.Close()
			return err
		}
		opened, err := db.openText(stored, gonePlace(collection, id))
		if err != nil {
			rows.Close()
			return err
		}
		f, err := decodeFields(opened)
		if err != nil {
			rows.Close()
			return err
		}
		if m := model.MatterOf(collection, id, f); m != "" && lost(m) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, "UPDATE gone_records SET out_of_sight = 1, fields = NULL WHERE record_id = ?", id); err != nil {
			return err
		}
	}
	return db.redactLeft(ctx, tx, ids...)
}

// leaveSightOf marks records that left this device before (deleted, their
// tombstones' copies kept) as out of the user's sight, the server having
// said so of each: a removal (the record moved, since, into a matter the
// user may not see, brought back there or moved on its way back). A
// device that did not pull the record back in between holds no row for
// the removal to drop; gone_records forgets its copy, and the journal
// its values, as a held record's removal takes them.
func (db *DB) leaveSightOf(ctx context.Context, tx *sql.Tx, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE gone_records SET out_of_sight = 1, fields = NULL
		WHERE record_id `+inIDs+` AND out_of_sight = 0
		AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = gone_records.record_id)`, idList(ids))
	if err != nil {
		return err
	}
	return db.redactLeft(ctx, tx, ids...)
}
