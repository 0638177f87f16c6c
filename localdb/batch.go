package localdb

import (
	"context"
	"database/sql"
	"errors"

	"casefile/model"
)

// stmts are the writer connection's statements for new records, prepared
// once at Open; a transaction binds them with Tx.StmtContext, which reuses
// the prepared statement on the one writer connection.
type stmts struct {
	record, fts, outbox, journal, ref *sql.Stmt
}

func prepareStmts(ctx context.Context, w *sql.DB) (stmts, error) {
	var s stmts
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = w.PrepareContext(ctx, q)
		return st
	}
	s.record = prep(`INSERT INTO records (id, collection, matter_id, fields, version, deleted, state, updated_at)
		VALUES (?, ?, ?, ?, 0, 0, ?, ?)`)
	s.fts = prep("INSERT INTO records_fts (rowid, body) VALUES (?, ?)")
	s.outbox = prep(`INSERT INTO outbox (op_id, record_id, collection, kind, fields, base_version, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`)
	s.journal = prep(`INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	s.ref = prep("SELECT collection, deleted FROM records WHERE id = ?")
	if err != nil {
		s.close()
	}
	return s, err
}

func (s stmts) close() {
	for _, st := range []*sql.Stmt{s.record, s.fts, s.outbox, s.journal, s.ref} {
		if st != nil {
			st.Close()
		}
	}
}

// importWriter writes new records, for single creates and import batches
// alike: record, full-text entry, create op and journal entry, all in the
// caller's transaction.
type importWriter struct {
	db                           *DB
	refs                         *refLookup
	record, fts, outbox, journal *sql.Stmt
}

func newImportWriter(ctx context.Context, tx *sql.Tx, db *DB) (*importWriter, error) {
	return &importWriter{
		db:      db,
		refs:    &refLookup{tx.StmtContext(ctx, db.stmts.ref)},
		record:  tx.StmtContext(ctx, db.stmts.record),
		fts:     tx.StmtContext(ctx, db.stmts.fts),
		outbox:  tx.StmtContext(ctx, db.stmts.outbox),
		journal: tx.StmtContext(ctx, db.stmts.journal),
	}, nil
}

func (w *importWriter) close() {
	for _, st := range []*sql.Stmt{w.refs.st, w.record, w.fts, w.outbox, w.journal} {
		st.Close()
	}
}

// write stores one new, already validated record with its create op.
func (w *importWriter) write(ctx context.Context, col *model.Collection, id string, fields model.Fields, kind JournalKind, summary string) (model.Record, error) {
	now := w.db.now()
	at := nanos(now)
	fj, err := encodeFields(fields)
	if err != nil {
		return model.Record{}, err
	}
	db := w.db
	res, err := w.record.ExecContext(ctx, id, col.Name, model.MatterOf(col.Name, id, fields), db.sealText(fj, recordPlace("fields", col.Name, id)), model.StatePending, at)
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
	if text := db.searchBody(searchText(col, fields)); text != "" {
		if _, err := w.fts.ExecContext(ctx, rid, text); err != nil {
			return model.Record{}, err
		}
	}
	opID := model.NewID()
	op := opRow{Op: model.Op{OpID: opID, RecordID: id, Collection: col.Name}}
	if _, err := w.outbox.ExecContext(ctx, opID, id, col.Name, model.OpCreate, db.sealText(fj, opPlace("fields", &op)), OpPending, at, at); err != nil {
		return model.Record{}, err
	}
	e := JournalEntry{Kind: kind, RecordID: id, Collection: col.Name, OpID: opID}
	if _, err := w.journal.ExecContext(ctx, at, actorLocal, kind, id, col.Name, opID,
		db.sealText(summary, journalPlace("summary", &e, at)), db.sealText(fj, journalPlace("after", &e, at))); err != nil {
		return model.Record{}, err
	}
	return model.Record{ID: id, Collection: col.Name, State: model.StatePending, Fields: fields, UpdatedAt: fromNanos(at)}, nil
}
