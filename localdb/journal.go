package localdb

import "context"

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
	at := nanos(e.At)
	_, err = q.ExecContext(ctx, `INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		at, e.Actor, e.Kind, e.RecordID, e.Collection, e.OpID, db.sealText(e.Summary, journalPlace("summary", &e, at)),
		db.sealNullable(before, journalPlace("before", &e, at)), db.sealNullable(after, journalPlace("after", &e, at)),
		e.Undoes, e.Version)
	return err
}
