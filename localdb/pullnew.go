package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"casefile/model"
	"casefile/protocol"
)

// The multi-row insert of records new to this device (see importChunks).
// It names no rid and fails rather than aborts on a constraint, so SQLite
// keeps no statement journal for it: a statement that writes many rows
// and may abort half-way (a NOT NULL or UNIQUE constraint at its default
// ABORT, or a rid given that must be checked to be an integer) copies
// every page it first changes to a journal of its own, to undo the
// statement alone. That was 6-9 % of a first sync's page transactions.
// Nothing needs undoing alone here: any error rolls the whole page's
// transaction back. The rows take the rids after the largest, as the
// writer checks, so that their full-text rows can follow.
const (
	pulledInsert = `INSERT OR FAIL INTO records (id, collection, matter_id, fields, base_fields, version, state, updated_at) VALUES `
	pulledShape  = "(?, ?, ?, ?, ?, ?, ?, ?)"
)

// pulledRow is a pulled record new to this device with no op queued for
// it, encoded and (in an encrypted database) sealed, waiting to be written.
type pulledRow struct {
	rid                      int64 // records.rid, set when the row is written
	id, collection, matterID string
	fields                   any // the server's fields, sealed; the base is the same (baseSame)
	version                  int64
	at                       int64
	search                   string // the full-text row ("" writes none)
}

// newPulled reports whether a pulled record takes the new-record path: not
// a tombstone, held once by its page, not on this device, and no op queued
// for it. Every other record takes pullRecord.
func (p *pullPage) newPulled(r *protocol.Record) bool {
	if p.oneByOne || r.Deleted || !p.once[r.ID] || p.queued[r.ID] > 0 {
		return false
	}
	_, here := p.rows[r.ID]
	return !here
}

// preparePulled encodes and seals a record newPulled accepted: the row
// pullInto would insert, with the same full-text entry. It reads no
// database and no clock (a record without updated_at is stamped by the
// caller), so it may run beside the transaction.
func (db *DB) preparePulled(r *protocol.Record) (pulledRow, error) {
	col, _ := db.schema.Collection(r.Collection)
	fields := normalizeWire(col, r.Fields)
	fj, err := encodeFields(fields)
	if err != nil {
		return pulledRow{}, err
	}
	// The full-text entry is made from the fields as stored, read back, as
	// every other writer of the index does; reading them back is skipped
	// only when it cannot change what is searched (a fifth of preparing).
	if !searchReadsBack(col, fields) {
		if fields, err = decodeFields(sql.NullString{String: fj, Valid: true}); err != nil {
			return pulledRow{}, err
		}
	}
	matter := r.MatterID
	if matter == "" {
		matter = model.MatterOf(r.Collection, r.ID, r.Fields)
	}
	return pulledRow{
		id: r.ID, collection: r.Collection, matterID: matter,
		fields:  db.sealText(fj, recordPlace("fields", r.Collection, r.ID)),
		version: r.Version, at: nanos(r.UpdatedAt),
		search: db.searchBody(searchText(col, fields)),
	}, nil
}

// pullPrepChunk is how many new records the preparing goroutine hands
// over at a time: a multi-row insert's worth.
const pullPrepChunk = 64

// pullPrep prepares the new records of a page (preparePulled) in page
// order, on a goroutine of its own when there are at least two chunks of
// them, while the page's transaction writes the ones before: encoding,
// sealing and search tokens were as much CPU as the writing.
type pullPrep struct {
	pos     []int // per record of the page, its place in rows; -1: not new
	rows    []pulledRow
	errs    []error
	ready   []chan struct{} // closed when a chunk of rows is prepared
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// PullAhead is a page's records prepared (encoded, sealed, their search
// tokens made) before the page's transaction: the syncer starts it when a
// page of a full pull has come, and it runs while the page before is
// written. Preparing reads no database, so it cannot know which records
// are new to the device; it prepares every one that may be (not a
// tombstone, held once by the page), and the transaction takes the rows
// of those that are (newPulled) and drops the others.
type PullAhead struct {
	recs []protocol.Record
	pp   *pullPrep
	used bool
}

// PrepareAhead starts preparing recs for ApplyPrepared (nil when there is
// nothing to prepare). Close waits for the preparing to end.
func (db *DB) PrepareAhead(recs []protocol.Record) (*PullAhead, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("prepare pulled records: %w", err)
	}
	if len(recs) == 0 {
		db.leave()
		return nil, nil
	}
	once, _ := onceIn(recs)
	a := &PullAhead{recs: recs, pp: db.preparePullPage(recs, &pullPage{once: once})}
	go func() {
		a.pp.wg.Wait()
		db.leave()
	}()
	return a, nil
}

// Stop ends the preparing of a page that will not be applied and waits for it.
func (a *PullAhead) Stop() {
	if a != nil && !a.used {
		a.used = true
		a.pp.stop()
	}
}

// prepared is the preparing of recs, a page whose new records are those
// page.newPulled accepts: ahead's, when it was made for these very
// records, or begun now. ahead is used up either way.
func (db *DB) prepared(recs []protocol.Record, page *pullPage, ahead *PullAhead) *pullPrep {
	if ahead == nil || ahead.used || len(ahead.recs) != len(recs) || len(recs) == 0 || &ahead.recs[0] != &recs[0] {
		ahead.Stop()
		return db.preparePullPage(recs, page)
	}
	ahead.used = true
	pp := ahead.pp
	// Only the transaction reads pos; the preparing goroutine works from
	// its own list. Every record newPulled accepts was prepared: it is no
	// tombstone and its page holds it once.
	for i := range recs {
		if !page.newPulled(&recs[i]) {
			pp.pos[i] = -1
		}
	}
	return pp
}

func (db *DB) preparePullPage(recs []protocol.Record, page *pullPage) *pullPrep {
	pp := &pullPrep{pos: make([]int, len(recs))}
	var todo []int
	for i := range recs {
		pp.pos[i] = -1
		if page.newPulled(&recs[i]) {
			pp.pos[i] = len(todo)
			todo = append(todo, i)
		}
	}
	pp.rows, pp.errs = make([]pulledRow, len(todo)), make([]error, len(todo))
	chunks := (len(todo) + pullPrepChunk - 1) / pullPrepChunk
	pp.ready = make([]chan struct{}, chunks)
	for c := range pp.ready {
		pp.ready[c] = make(chan struct{})
	}
	prepare := func() {
		for c := range chunks {
			if !pp.stopped.Load() {
				for j := c * pullPrepChunk; j < min((c+1)*pullPrepChunk, len(todo)); j++ {
					pp.rows[j], pp.errs[j] = db.preparePulled(&recs[todo[j]])
				}
			}
			close(pp.ready[c])
		}
	}
	if chunks < 2 {
		prepare()
		return pp
	}
	pp.wg.Add(1)
	go func() {
		defer pp.wg.Done()
		prepare()
	}()
	return pp
}

// row is the prepared row of the page's i-th record, or new false when
// that record takes pullRecord.
func (pp *pullPrep) row(i int) (row pulledRow, isNew bool, err error) {
	j := pp.pos[i]
	if j < 0 {
		return pulledRow{}, false, nil
	}
	<-pp.ready[j/pullPrepChunk]
	return pp.rows[j], true, pp.errs[j]
}

// stop ends the preparing early (the transaction failed) and waits for it.
func (pp *pullPrep) stop() {
	pp.stopped.Store(true)
	pp.wg.Wait()
}

// pullRecords applies a page's records in order: the new ones (newPulled)
// many rows per statement, every other one by pullRecord. It returns how
// many changed and the journal notes of the first pullJournalEach of them.
func (db *DB) pullRecords(ctx context.Context, tx *sql.Tx, recs []protocol.Record, ahead *PullAhead) (changed int, notes []JournalEntry, err error) {
	known, err := db.loadPullPage(ctx, tx, recs)
	if err != nil {
		return 0, nil, err
	}
	prep := db.prepared(recs, known, ahead)
	defer prep.stop()
	w := db.newPullWriter(ctx, tx)
	defer w.close()
	for i := range recs {
		r := &recs[i]
		// Past pullJournalEach changes the page gets one entry:
		// describing each change would only cost.
		describe := len(notes) <= pullJournalEach
		if row, isNew, err := prep.row(i); isNew {
			if err != nil {
				return 0, nil, fmt.Errorf("record %s: %w", r.ID, err)
			}
			if row.at == 0 {
				row.at = nanos(db.now())
			}
			w.queue(row)
			changed++
			if describe {
				notes = append(notes, pulledEntry(db.schema, r, recordRow{}, false))
			}
			continue
		}
		// The new records before it are written first: rows keep the
		// page's order.
		if err := w.flush(ctx); err != nil {
			return 0, nil, fmt.Errorf("new records: %w", err)
		}
		n, note, err := db.pullRecord(ctx, tx, r, known, describe)
		if err != nil {
			return 0, nil, fmt.Errorf("record %s: %w", r.ID, err)
		}
		changed += n
		if n > 0 && describe {
			notes = append(notes, note)
		}
	}
	if err := w.flush(ctx); err != nil {
		return 0, nil, fmt.Errorf("new records: %w", err)
	}
	return changed, notes, nil
}

// pullWriter writes the new records of a pull page many rows per
// statement, in the page's transaction. The caller flushes before any
// record that takes pullRecord, so rows, rids and full-text entries come
// in the page's order, as one by one.
type pullWriter struct {
	tx     *sql.Tx
	fts    *sql.Stmt
	queued []pulledRow
	args   []any // a statement's arguments, kept for the next
}

func (db *DB) newPullWriter(ctx context.Context, tx *sql.Tx) *pullWriter {
	return &pullWriter{tx: tx, fts: tx.StmtContext(ctx, db.stmts.fts)}
}

func (w *pullWriter) close() { w.fts.Close() }

func (w *pullWriter) queue(r pulledRow) { w.queued = append(w.queued, r) }

// flush writes the queued records, then their full-text rows. The rows are
// new: no full-text entry holds their rids (a record's entry leaves with it).
func (w *pullWriter) flush(ctx context.Context) error {
	rows := w.queued
	if len(rows) == 0 {
		return nil
	}
	w.queued = w.queued[:0]
	last, err := lastRid(ctx, w.tx)
	if err != nil {
		return err
	}
	if err := w.insert(ctx, rows, last); err != nil {
		return err
	}
	for i := range rows {
		if r := &rows[i]; r.search != "" {
			if _, err := w.fts.ExecContext(ctx, r.rid, r.search); err != nil {
				return err
			}
		}
	}
	return nil
}

// insert writes rows after the largest rid, last, in multi-row statements
// of importChunks' sizes, and sets each row's rid. SQLite gives a row
// without a rid the one after the largest, which each statement's last
// rid confirms; should it have given others (the largest rid possible is
// taken, and it draws them at random), the statement's rows are read back
// by id, so a full-text row never goes to another record's rid.
func (w *pullWriter) insert(ctx context.Context, rows []pulledRow, last int64) error {
	args := w.args[:0]
	for len(rows) > 0 {
		n := chunkFor(len(rows))
		args = args[:0]
		for i := range rows[:n] {
			r := &rows[i]
			last++
			r.rid = last
			args = append(args, r.id, r.collection, r.matterID, r.fields, baseSame, r.version, model.StateSynced, r.at)
		}
		res, err := w.tx.ExecContext(ctx, rowsSQL(pulledInsert, pulledShape, n), args...)
		if err != nil {
			return err
		}
		got, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if got != last {
			if last, err = w.readRids(ctx, rows[:n]); err != nil {
				return err
			}
		}
		rows = rows[n:]
	}
	w.args = args[:0]
	return nil
}

// readRids sets the rids of rows just written from the table, and returns
// the largest rid there now.
func (w *pullWriter) readRids(ctx context.Context, rows []pulledRow) (int64, error) {
	for i := range rows {
		if err := w.tx.QueryRowContext(ctx, "SELECT rid FROM records WHERE id = ?", rows[i].id).Scan(&rows[i].rid); err != nil {
			return 0, fmt.Errorf("read the rid of pulled record %s: %w", rows[i].id, err)
		}
	}
	return lastRid(ctx, w.tx)
}
