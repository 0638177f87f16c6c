package localdb

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"casefile/model"
)

// stmts are the writer connection's statements for one new record,
// prepared once at Open; a transaction binds them with Tx.StmtContext,
// which reuses the prepared statement on the one writer connection. The
// create op's insert is not among them: it names a column of migration
// 0019, and Open must work on a database of any earlier version until it
// has migrated it (statements by text are cached per connection anyway).
type stmts struct {
	record, fts, journal, ref *sql.Stmt
}

// The one-row statements of a new record, and the row shapes of their
// multi-row forms (rowsSQL repeats a shape after the VALUES keyword). The
// multi-row records insert names rid: the full-text rows need it before
// they are written. Full-text rows go one per statement: FTS5 tokenizes
// and indexes row by row whatever the statement, and its multi-row forms
// (VALUES lists, json_each) measured slower.
const (
	recordInsert   = `INSERT INTO records (id, collection, matter_id, fields, version, deleted, state, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?)`
	recordsInsert  = `INSERT INTO records (rid, id, collection, matter_id, fields, version, deleted, state, updated_at) VALUES `
	recordShape    = "(?, ?, ?, ?, ?, 0, 0, ?, ?)"
	ftsInsert      = "INSERT INTO records_fts (rowid, body) VALUES (?, ?)"
	outboxInsert   = `INSERT INTO outbox (op_id, record_id, collection, kind, fields_entry, base_version, state, created_at, updated_at, imported) VALUES `
	outboxShape    = "(?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
	journalInsert  = `INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, after) VALUES `
	journalShape   = "(?, ?, ?, ?, ?, ?, ?, ?)"
	journalsInsert = `INSERT INTO journal (seq, at, actor, kind, record_id, collection, op_id, summary, after) VALUES `
	journalsShape  = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

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
	s.record = prep(recordInsert)
	s.fts = prep(ftsInsert)
	s.journal = prep(journalInsert + journalShape)
	s.ref = prep("SELECT collection, deleted FROM records WHERE id = ?")
	if err != nil {
		s.close()
	}
	return s, err
}

func (s stmts) close() {
	for _, st := range []*sql.Stmt{s.record, s.fts, s.journal, s.ref} {
		if st != nil {
			st.Close()
		}
	}
}

// importChunks are the row counts of the multi-row inserts an import
// batch is cut into, largest first; a batch of 1,000 takes 15 of 64, 2
// of 16 and 2 of 4. One statement for many rows pays once for what SQLite
// does per statement (opening a cursor on the table and each index, the
// statement journal, AUTOINCREMENT's sqlite_sequence row), which was as
// much as the rows themselves. Few sizes keep few statement texts in the
// writer's statement cache.
var importChunks = []int{64, 16, 4, 1}

// chunkFor is the largest of importChunks' statement sizes that rows
// rows fill.
func chunkFor(rows int) int {
	for _, c := range importChunks {
		if c <= rows {
			return c
		}
	}
	return 1
}

// rowsSQL is head followed by n copies of shape, comma-separated.
func rowsSQL(head, shape string, n int) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(shape)+2))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(shape)
	}
	return b.String()
}

// newRow is one new record's rows, encoded and sealed, waiting to be
// written. The journal entry holds the record's values (after); neither
// the record nor its create op holds a copy: they refer to the entry
// (entryRef in records.fields, outbox.fields_entry), written with them.
type newRow struct {
	rid                   int64 // records.rid, set when the record row is written
	entry                 int64 // journal.seq, set when the journal entry is written
	id, collection        string
	matterID              string
	plain                 model.Fields // the fields as given
	at                    int64
	search                string // the full-text row ("" writes none)
	searchLater           bool   // the row goes to the search backlog instead
	opID                  string
	kind                  JournalKind
	summary, journalAfter any // sealed for the journal
}

// importWriter writes new records, for single creates and import batches
// alike: record, full-text entry, create op and journal entry, all in the
// caller's transaction. queue adds a record; flush writes what is queued,
// many rows per statement. Rows keep their order in every table, so ops
// are queued and journalled in the order the records were added.
type importWriter struct {
	db                   *DB
	tx                   *sql.Tx
	refs                 *refLookup
	record, fts, journal *sql.Stmt
	queued               []newRow
}

func newImportWriter(ctx context.Context, tx *sql.Tx, db *DB) (*importWriter, error) {
	return &importWriter{
		db:      db,
		tx:      tx,
		refs:    &refLookup{tx.StmtContext(ctx, db.stmts.ref)},
		record:  tx.StmtContext(ctx, db.stmts.record),
		fts:     tx.StmtContext(ctx, db.stmts.fts),
		journal: tx.StmtContext(ctx, db.stmts.journal),
	}, nil
}

func (w *importWriter) close() {
	for _, st := range []*sql.Stmt{w.refs.st, w.record, w.fts, w.journal} {
		st.Close()
	}
}

// write stores one new, already validated record with its create op now.
func (w *importWriter) write(ctx context.Context, col *model.Collection, id string, fields model.Fields, kind JournalKind, summary string) (model.Record, error) {
	r, err := w.db.newRow(col, id, fields, kind, summary)
	if err != nil {
		return model.Record{}, err
	}
	// One record's full-text entry would be a segment of its own, a quarter
	// of the commit's pages: it goes to the search backlog instead.
	r.searchLater = true
	w.queue(r)
	if err := w.flush(ctx); err != nil {
		return model.Record{}, err
	}
	return r.record(), nil
}

// newRow encodes (and in an encrypted database seals) the rows of one new,
// already validated record with its create op, stamped now. Its full-text
// row is the caller's to add (search) or to leave to the backlog.
func (db *DB) newRow(col *model.Collection, id string, fields model.Fields, kind JournalKind, summary string) (newRow, error) {
	at := nanos(db.now())
	fj, err := encodeFields(fields)
	if err != nil {
		return newRow{}, err
	}
	opID := model.NewID()
	e := JournalEntry{Kind: kind, RecordID: id, Collection: col.Name, OpID: opID}
	return newRow{
		id: id, collection: col.Name, matterID: model.MatterOf(col.Name, id, fields), plain: fields, at: at,
		opID: opID,
		kind: kind, summary: db.sealText(summary, journalPlace("summary", &e, at)),
		journalAfter: db.sealText(fj, journalPlace("after", &e, at)),
	}, nil
}

// fieldsRef is what records.fields holds for the new record: a reference
// to its journal entry, once that is written.
func (r *newRow) fieldsRef() string { return entryRef + strconv.FormatInt(r.entry, 10) }

// record is the new record as it will be once written.
func (r *newRow) record() model.Record {
	return model.Record{ID: r.id, Collection: r.collection, State: model.StatePending, Fields: r.plain, UpdatedAt: fromNanos(r.at)}
}

// queue adds a record's rows for the next flush to write.
func (w *importWriter) queue(r newRow) { w.queued = append(w.queued, r) }

// flush writes the queued records: their journal entries first (the
// records and ops refer to them by seq), then record rows (the full-text
// rows need their rids), full-text rows and ops. A record already here
// fails it with ErrExists; the caller's transaction, failed, takes back
// the entries written before it.
func (w *importWriter) flush(ctx context.Context) error {
	rows := w.queued
	if len(rows) == 0 {
		return nil
	}
	w.queued = w.queued[:0]
	if err := w.writeJournal(ctx, rows); err != nil {
		return err
	}
	if err := w.writeRecords(ctx, rows); err != nil {
		if errors.Is(mapErr(err), ErrExists) {
			return ErrExists
		}
		return err
	}
	for i := range rows {
		r := &rows[i]
		switch {
		case r.searchLater:
			if err := w.db.indexLater(ctx, w.tx, r.rid); err != nil {
				return err
			}
		case r.search != "":
			if _, err := w.fts.ExecContext(ctx, r.rid, r.search); err != nil {
				return err
			}
		}
	}
	return inChunks(ctx, w.tx, rows, nil, outboxInsert, outboxShape, func(r *newRow) []any {
		return []any{r.opID, r.id, r.collection, model.OpCreate, r.entry, OpPending, r.at, r.at, r.kind == JournalImport}
	})
}

// writeJournal inserts the journal entries and sets each row's entry, as
// writeRecords does with rids: a lone entry takes the seq SQLite gives it;
// entries written many at a time are given the seqs AUTOINCREMENT would
// give them, one after the largest ever used.
func (w *importWriter) writeJournal(ctx context.Context, rows []newRow) error {
	if len(rows) == 1 {
		r := &rows[0]
		res, err := w.journal.ExecContext(ctx, r.at, actorLocal, r.kind, r.id, r.collection, r.opID, r.summary, r.journalAfter)
		if err != nil {
			return err
		}
		r.entry, err = res.LastInsertId()
		return err
	}
	last, err := lastJournalSeq(ctx, w.tx)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].entry = last + int64(i) + 1
	}
	return inChunks(ctx, w.tx, rows, nil, journalsInsert, journalsShape, func(r *newRow) []any {
		return []any{r.entry, r.at, actorLocal, r.kind, r.id, r.collection, r.opID, r.summary, r.journalAfter}
	})
}

// lastJournalSeq is the largest seq the journal has given: AUTOINCREMENT
// keeps it in sqlite_sequence (absent before the first entry).
func lastJournalSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0),
		coalesce((SELECT max(seq) FROM journal), 0))`).Scan(&last)
	return last, err
}

// writeRecords inserts the record rows and sets each row's rid: a lone
// row takes the rid SQLite gives it; rows written many at a time are given
// the rids SQLite would give them, one after the largest in the table.
func (w *importWriter) writeRecords(ctx context.Context, rows []newRow) error {
	if len(rows) == 1 {
		r := &rows[0]
		res, err := w.record.ExecContext(ctx, r.id, r.collection, r.matterID, r.fieldsRef(), model.StatePending, r.at)
		if err != nil {
			return err
		}
		r.rid, err = res.LastInsertId()
		return err
	}
	last, err := lastRid(ctx, w.tx)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].rid = last + int64(i) + 1
	}
	return inChunks(ctx, w.tx, rows, nil, recordsInsert, recordShape, func(r *newRow) []any {
		return []any{r.rid, r.id, r.collection, r.matterID, r.fieldsRef(), model.StatePending, r.at}
	})
}

// lastRid is the largest rid in records (0 when there is none): rows
// written many at a time take the rids after it, as SQLite would give them.
func lastRid(ctx context.Context, tx *sql.Tx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, "SELECT coalesce(max(rid), 0) FROM records").Scan(&last)
	return last, err
}

// inChunks inserts one row per element of rows, in order, with the largest
// multi-row statements that fit; one is the one-row statement when given.
func inChunks[T any](ctx context.Context, tx *sql.Tx, rows []T, one *sql.Stmt, head, shape string, args func(*T) []any) error {
	var buf []any
	for len(rows) > 0 {
		n := chunkFor(len(rows))
		buf = buf[:0]
		for i := range rows[:n] {
			buf = append(buf, args(&rows[i])...)
		}
		var err error
		if n == 1 && one != nil {
			_, err = one.ExecContext(ctx, buf...)
		} else {
			_, err = tx.ExecContext(ctx, rowsSQL(head, shape, n), buf...)
		}
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// exists reports whether a record with this id is on this device, deleted or not.
func (w *importWriter) exists(ctx context.Context, id string) (bool, error) {
	var coll string
	var deleted bool
	err := w.refs.st.QueryRowContext(ctx, id).Scan(&coll, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
