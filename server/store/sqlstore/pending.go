package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"casefile/server/store"
)

// pendingRows holds the ledger and audit rows a write transaction has
// written but not yet sent to the database. Every op of a push writes one
// of each, and nothing reads them back in the transaction but the ledger
// lookup of a later op (which looks here first) and the few queries that
// read those tables (which send them first, see flush). They reach the
// database before commit in multi-row INSERTs: on PostgreSQL each statement
// is a round trip, and on both engines a statement has a fixed cost.
//
// A ledger row waits only if the transaction read its op id as absent
// (the push reads the ledger before it writes): the transaction holds the
// write lock, so the row cannot collide at the flush, and PutLedger still
// answers ErrDuplicate at once, as the store promises. Any other is
// inserted at once.
//
// A savepoint keeps the slices as they were (savedRows) and a rollback to
// it puts them back: rows added inside are dropped, rows sent inside (by
// a flush the rollback undid) are pending again.
type pendingRows struct {
	ledger []ledgerRow
	audit  []store.AuditEntry
	byOp   map[string]int // op id → index in ledger
	// writes are record rows (their columns, recordCols) not yet sent, in
	// the order written; lastWrite is each id's last.
	writes    [][]any
	lastWrite map[string]int
	// absent are op ids this transaction read as not in the ledger table;
	// recordAbsent, record ids it read as not in the records table (until
	// it writes them).
	absent, recordAbsent map[string]bool
	// records are rows Preload read, each handed out once by Record (its
	// maps are the caller's then) and dropped when the row is written;
	// members are the memberships PreloadMembers read, dropped when one
	// is added or ended. A savepoint's rollback drops both: what they
	// read inside it may be undone.
	records map[string]store.Record
	members map[memberKey]bool
}

type ledgerRow struct {
	e   store.LedgerEntry
	seq int64
}

type savedRows struct {
	ledger []ledgerRow
	audit  []store.AuditEntry
	writes [][]any
}

func (p *pendingRows) save() savedRows { return savedRows{p.ledger, p.audit, p.writes} }

func (p *pendingRows) noteAbsent(opID string) {
	if p.absent == nil {
		p.absent = map[string]bool{}
	}
	p.absent[opID] = true
}

// takeAbsent reports whether opID was read as absent, and forgets it: once
// written, it is absent no more.
func (p *pendingRows) takeAbsent(opID string) bool {
	ok := p.absent[opID]
	delete(p.absent, opID)
	return ok
}

func (p *pendingRows) restore(s savedRows) {
	p.ledger, p.audit, p.byOp = s.ledger, s.audit, nil
	for i, r := range p.ledger {
		p.indexLedger(i, r.e.OpID)
	}
	p.writes, p.lastWrite = s.writes, nil
	for i, w := range p.writes {
		p.indexWrite(i, w[0].(string))
	}
}

func (p *pendingRows) addWrite(cols []any) {
	p.writes = append(p.writes, cols)
	p.indexWrite(len(p.writes)-1, cols[0].(string))
}

func (p *pendingRows) indexWrite(i int, id string) {
	if p.lastWrite == nil {
		p.lastWrite = map[string]int{}
	}
	p.lastWrite[id] = i
}

// written returns the record last written to id and not yet sent.
func (p *pendingRows) written(id string) (store.Record, bool, error) {
	i, ok := p.lastWrite[id]
	if !ok {
		return store.Record{}, false, nil
	}
	r, err := scanRecord(rowValues(p.writes[i]))
	return r, true, err
}

// rowValues scans values kept for a row as the row would scan.
type rowValues []any

func (v rowValues) Scan(dest ...any) error {
	if len(dest) != len(v) {
		return fmt.Errorf("scan %d columns into %d", len(v), len(dest))
	}
	for i, d := range dest {
		switch p := d.(type) {
		case *string:
			*p = v[i].(string)
		case *int64:
			*p = v[i].(int64)
		case *bool:
			*p = v[i].(bool)
		default:
			return fmt.Errorf("scan column %d into %T", i, d)
		}
	}
	return nil
}

func (p *pendingRows) addLedger(e store.LedgerEntry, seq int64) {
	p.ledger = append(p.ledger, ledgerRow{e: e, seq: seq})
	p.indexLedger(len(p.ledger)-1, e.OpID)
}

func (p *pendingRows) indexLedger(i int, opID string) {
	if p.byOp == nil {
		p.byOp = map[string]int{}
	}
	p.byOp[opID] = i
}

// findLedger returns a pending ledger entry by op id.
func (p *pendingRows) findLedger(opID string) (store.LedgerEntry, bool) {
	i, ok := p.byOp[opID]
	if !ok {
		return store.LedgerEntry{}, false
	}
	r := p.ledger[i]
	e := r.e
	e.Seq = r.seq
	return e, true
}

// flush sends the pending rows, then the cached head (flushHead): before
// commit, and before SQL that reads the ledger, the audit log or the head
// row itself.
func (t *txn) flush(ctx context.Context) error {
	if err := t.flushRows(ctx); err != nil {
		return err
	}
	return t.flushHead(ctx)
}

// flushRecords sends the record rows written and not yet sent, each id's
// last write once (one statement cannot upsert a row twice), with the seq
// of its first as the created_seq an insert takes: before commit, and
// before SQL that reads the records table.
func (t *txn) flushRecords(ctx context.Context) error {
	p := &t.pending
	if len(p.writes) == 0 {
		return nil
	}
	var rows [][]any
	at := map[string]int{}
	for _, w := range p.writes {
		id := w[0].(string)
		if i, ok := at[id]; ok {
			created := rows[i][len(recordWriteCols)-2]
			rows[i] = append(append([]any(nil), w...), created, w[4])
			continue
		}
		at[id] = len(rows)
		rows = append(rows, append(append([]any(nil), w...), w[4], w[4]))
	}
	err := insertRowsThen(ctx, t, "records ("+recordCols+", created_seq, changed_seq)", len(recordWriteCols), len(rows),
		func(i int, args []any) []any { return append(args, rows[i]...) }, recordUpsert)
	if err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	p.writes, p.lastWrite = nil, nil
	return nil
}

func (t *txn) flushRows(ctx context.Context) error {
	if err := t.flushRecords(ctx); err != nil {
		return err
	}
	p := &t.pending
	err := insertRows(ctx, t, "ledger (op_id, user_name, device, at, result, seq)", 6, len(p.ledger), func(i int, args []any) []any {
		r := p.ledger[i]
		return append(args, r.e.OpID, r.e.User, r.e.Device, r.e.At.UnixMicro(), string(r.e.Result), r.seq)
	})
	if err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	err = insertRows(ctx, t, "audit (id, seq, at, actor, device, action, target, before_digest, after_digest, prev_hash, hash)", 11, len(p.audit), func(i int, args []any) []any {
		e := &p.audit[i]
		return append(args, e.ID, e.Seq, e.At.UnixMicro(), e.Actor, e.Device, e.Action, e.Target, e.Before, e.After, e.PrevHash, e.Hash)
	})
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	p.ledger, p.audit, p.byOp = nil, nil, nil
	return nil
}

// rowsPerInsert are the sizes of the multi-row INSERTs, largest first: a
// few statement texts, each prepared once, cover any number of rows.
var rowsPerInsert = [...]int{64, 16, 4, 1}

// insertRows inserts n rows of cols columns into table (its name and
// column list), in order, appending row i's values with row.
func insertRows(ctx context.Context, t *txn, table string, cols, n int, row func(i int, args []any) []any) error {
	return insertRowsThen(ctx, t, table, cols, n, row, "")
}

// insertRowsThen is insertRows with then after each statement's rows (an
// ON CONFLICT clause).
func insertRowsThen(ctx context.Context, t *txn, table string, cols, n int, row func(i int, args []any) []any, then string) error {
	args := make([]any, 0, rowsPerInsert[0]*cols)
	for i := 0; i < n; {
		size := 1
		for _, s := range rowsPerInsert {
			if n-i >= s {
				size = s
				break
			}
		}
		args = args[:0]
		for k := range size {
			args = row(i+k, args)
		}
		if _, err := t.q.ExecContext(ctx, insertText(table, cols, size)+then, args...); err != nil {
			return t.mapErr(err)
		}
		i += size
	}
	return nil
}

// insertText is "INSERT INTO table VALUES ($1, …), …" for rows rows.
func insertText(table string, cols, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(placeholders(r*cols+1, cols))
	}
	return b.String()
}
