package localdb

import (
	"context"
	"database/sql"
	"errors"

	"casefile/model"
)

// importWriter writes new records with prepared statements, for single
// creates and for import batches alike: record, full-text entry, create op
// and journal entry, all in the caller's transaction.
type importWriter struct {
	db                             *DB
	refs                           *sql.Tx
	record, fts, outbox, journalSt *sql.Stmt
}

func newImportWriter(ctx context.Context, tx *sql.Tx, db *DB) (*importWriter, error) {
	w := &importWriter{db: db, refs: tx}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	w.record = prep(`INSERT INTO records (id, collection, matter_id, fields, version, deleted, state, updated_at)
		VALUES (?, ?, ?, ?, 0, 0, 'pending', ?)`)
	w.fts = prep("INSERT INTO records_fts (rowid, body) VALUES (?, ?)")
	w.outbox = prep(`INSERT INTO outbox (op_id, record_id, collection, kind, fields, base_version, state, created_at, updated_at)
		VALUES (?, ?, ?, 'create', ?, 0, 'pending', ?, ?)`)
	w.journalSt = prep(`INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *importWriter) close() {
	for _, st := range []*sql.Stmt{w.record, w.fts, w.outbox, w.journalSt} {
		if st != nil {
			st.Close()
		}
	}
}

// write stores one new, already validated record with its create op.
func (w *importWriter) write(ctx context.Context, col *model.Collection, id string, fields model.Fields, kind, summary string) (model.Record, error) {
	now := w.db.now()
	at := nanos(now)
	fj, err := encodeFields(fields)
	if err != nil {
		return model.Record{}, err
	}
	res, err := w.record.ExecContext(ctx, id, col.Name, model.MatterOf(col.Name, id, fields), fj, at)
	if err != nil {
		if errors.Is(mapErr(err), ErrExists) {
			return model.Record{}, ErrExists
		}
		return model.Record{}, err
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return model.Record{}, err
	}
	if text := searchText(col, fields); text != "" {
		if _, err := w.fts.ExecContext(ctx, rid, text); err != nil {
			return model.Record{}, err
		}
	}
	opID := model.NewID()
	if _, err := w.outbox.ExecContext(ctx, opID, id, col.Name, fj, at, at); err != nil {
		return model.Record{}, err
	}
	if _, err := w.journalSt.ExecContext(ctx, at, actorLocal, kind, id, col.Name, opID, summary, fj); err != nil {
		return model.Record{}, err
	}
	return model.Record{ID: id, Collection: col.Name, State: model.StatePending, Fields: fields, UpdatedAt: fromNanos(at)}, nil
}
