package sqlstore

import (
	"context"
	"encoding/json"
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
	// graves are what Preload read of the graves of the records it found
	// absent: the grave, or a zero Grave for none. Only compaction writes
	// graves, and it drops these.
	graves map[string]store.Grave
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

// flush sends the pending rows, then the cached head: before commit, and
// before SQL that reads the ledger, the audit log or the head row itself.
func (t *txn) flush(ctx context.Context) error {
	return t.send(ctx, sendRecords|sendRows|sendHead, nil)
}

// flushRecords sends the record rows written and not yet sent: before SQL
// that reads the records table.
func (t *txn) flushRecords(ctx context.Context) error { return t.send(ctx, sendRecords, nil) }

// flushRows sends the pending record, ledger and audit rows: before SQL
// that reads the ledger or the audit log.
func (t *txn) flushRows(ctx context.Context) error { return t.send(ctx, sendRecords|sendRows, nil) }

// sendParts says what a send writes.
type sendParts uint8

const (
	sendRecords sendParts = 1 << iota // the pending record rows
	sendRows                          // the pending ledger and audit rows
	sendHead                          // the cached head, which is then forgotten
)

// send writes what parts name, and publishes hints where the dialect
// publishes them inside the transaction (Dialect.NotifyChannel). With
// Dialect.Unnest all of it is one statement (sendOne); otherwise each
// table's rows go in multi-row INSERTs, then the head row (sendEach; such
// a dialect publishes hints after commit, see New).
func (t *txn) send(ctx context.Context, parts sendParts, hints []store.Hint) error {
	sets, h, hints := t.take(parts, hints)
	var err error
	if t.d.Unnest {
		err = t.sendOne(ctx, sets, h, hints)
	} else {
		err = t.sendEach(ctx, sets, h)
	}
	if err != nil {
		return err
	}
	t.sent(parts)
	return nil
}

// lastStatement is what send would send for the whole transaction and its
// hints, as one statement (a dialect with Commit has Unnest, see New), to
// go with the COMMIT; the pending rows count as sent. query is "" when
// there is nothing to send.
func (t *txn) lastStatement(hints []store.Hint) (query string, args []any, err error) {
	parts := sendRecords | sendRows | sendHead
	sets, h, hints := t.take(parts, hints)
	if query, args, err = oneStatement(sets, h, hints, t.d.NotifyChannel); err != nil {
		return "", nil, err
	}
	t.sent(parts)
	return query, args, nil
}

// take gathers what parts name (and the hints, where the dialect publishes
// them in the transaction) for a send; the cached head is forgotten.
func (t *txn) take(parts sendParts, hints []store.Hint) ([]rowSet, *headCache, []store.Hint) {
	p := &t.pending
	var sets []rowSet
	if parts&sendRecords != 0 && len(p.writes) > 0 {
		sets = append(sets, p.recordSet())
	}
	if parts&sendRows != 0 {
		if len(p.ledger) > 0 {
			sets = append(sets, p.ledgerSet())
		}
		if len(p.audit) > 0 {
			sets = append(sets, p.auditSet())
		}
	}
	var h *headCache
	if parts&sendHead != 0 {
		if h, t.head = t.head, nil; h != nil && !h.dirty {
			h = nil
		}
	}
	if t.d.NotifyChannel == "" {
		hints = nil
	}
	return sets, h, hints
}

// sent drops the pending rows parts named, now that they were sent.
func (t *txn) sent(parts sendParts) {
	p := &t.pending
	if parts&sendRecords != 0 {
		p.writes, p.lastWrite = nil, nil
	}
	if parts&sendRows != 0 {
		p.ledger, p.audit, p.byOp = nil, nil, nil
	}
}

// rowSet is one table's pending rows, as an insert sends them.
type rowSet struct {
	what  string // for errors: "records"
	table string // the table and its column list
	cols  int
	n     int
	row   func(i int, args []any) []any // appends row i's values
	then  string                        // what follows the rows: an ON CONFLICT clause
}

// recordSet is the record rows written and not yet sent, each id's last
// write once (one statement cannot upsert a row twice), with the seq of
// its first as the created_seq an insert takes.
func (p *pendingRows) recordSet() rowSet {
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
	return rowSet{what: "records", table: "records (" + recordCols + ", created_seq, changed_seq)",
		cols: len(recordWriteCols), n: len(rows), then: recordUpsert,
		row: func(i int, args []any) []any { return append(args, rows[i]...) }}
}

func (p *pendingRows) ledgerSet() rowSet {
	return rowSet{what: "ledger", table: "ledger (op_id, user_name, device, at, result, seq)", cols: 6, n: len(p.ledger),
		row: func(i int, args []any) []any {
			r := p.ledger[i]
			return append(args, r.e.OpID, r.e.User, r.e.Device, r.e.At.UnixMicro(), string(r.e.Result), r.seq)
		}}
}

func (p *pendingRows) auditSet() rowSet {
	return rowSet{what: "audit", table: "audit (id, seq, at, actor, device, action, target, before_digest, after_digest, prev_hash, hash)",
		cols: 11, n: len(p.audit),
		row: func(i int, args []any) []any {
			e := &p.audit[i]
			return append(args, e.ID, e.Seq, e.At.UnixMicro(), e.Actor, e.Device, e.Action, e.Target, e.Before, e.After, e.PrevHash, e.Hash)
		}}
}

// headUpdate writes the cached head's moving parts.
const headUpdate = `UPDATE head SET seq = $%d, audit_n = $%d, audit_hash = $%d WHERE id = 1`

// notifySelect publishes a JSON hint per array element on a channel.
const notifySelect = `SELECT pg_notify($%d, p) FROM unnest($%d::text[]) AS p`

// sendEach sends each set in multi-row INSERTs, then the head: a
// statement per table and size, for engines where a statement is a call,
// not a round trip.
func (t *txn) sendEach(ctx context.Context, sets []rowSet, h *headCache) error {
	for _, s := range sets {
		if err := insertRows(ctx, t, s); err != nil {
			return fmt.Errorf("write %s: %w", s.what, err)
		}
	}
	if h != nil {
		if _, err := t.q.ExecContext(ctx, fmt.Sprintf(headUpdate, 1, 2, 3), h.seq, h.auditN, h.auditHash); err != nil {
			return fmt.Errorf("write head: %w", t.mapErr(err))
		}
	}
	return nil
}

// sendOne sends the sets, the head and the hints in one statement, for
// PostgreSQL, where each statement is a round trip made while the group
// holds the head's lock: each set is an INSERT … SELECT FROM unnest(…) of
// one array per column, and all but the last part are data-modifying WITH
// clauses of the last. A group of pushes took an INSERT per table and
// multi-row size (rowsPerInsert: four per table for seven pushes), an
// UPDATE and a NOTIFY (docs/benchmarks.md, fourteenth round).
//
// The parts write different tables, so that they run on one snapshot and
// cannot see each other's rows does not matter; constraints are checked
// at the statement's end, on all of them.
func (t *txn) sendOne(ctx context.Context, sets []rowSet, h *headCache, hints []store.Hint) error {
	query, args, err := oneStatement(sets, h, hints, t.d.NotifyChannel)
	if err != nil || query == "" {
		return err
	}
	if _, err := t.q.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("write rows: %w", t.mapErr(err))
	}
	return nil
}

// oneStatement is sendOne's statement: "" when there is nothing to send.
func oneStatement(sets []rowSet, h *headCache, hints []store.Hint, channel string) (string, []any, error) {
	var parts []string
	var args []any
	for _, s := range sets {
		arrays, types, err := columnArrays(s)
		if err != nil {
			return "", nil, fmt.Errorf("write %s: %w", s.what, err)
		}
		var b strings.Builder
		b.WriteString("INSERT INTO " + s.table + " SELECT * FROM unnest(")
		for i, a := range arrays {
			if i > 0 {
				b.WriteString(", ")
			}
			args = append(args, a)
			fmt.Fprintf(&b, "$%d::%s[]", len(args), types[i])
		}
		b.WriteString(") AS u" + s.then)
		parts = append(parts, b.String())
	}
	if h != nil {
		n := len(args)
		parts = append(parts, fmt.Sprintf(headUpdate, n+1, n+2, n+3))
		args = append(args, h.seq, h.auditN, h.auditHash)
	}
	if len(hints) > 0 {
		payloads, err := hintPayloads(hints)
		if err != nil {
			return "", nil, err
		}
		n := len(args)
		parts = append(parts, fmt.Sprintf(notifySelect, n+1, n+2))
		args = append(args, channel, payloads)
	}
	if len(parts) == 0 {
		return "", nil, nil
	}
	var b strings.Builder
	for i, part := range parts[:len(parts)-1] {
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "w%d AS (%s)", i, part)
	}
	if len(parts) > 1 {
		b.WriteString(" ")
	}
	b.WriteString(parts[len(parts)-1])
	return b.String(), args, nil
}

// columnArrays turns a set's rows into one array per column, typed by
// the Go type of the column's values, with each column's SQL type.
func columnArrays(s rowSet) ([]any, []string, error) {
	vals := make([]any, 0, s.n*s.cols)
	var row []any
	for i := range s.n {
		row = s.row(i, row[:0])
		if len(row) != s.cols {
			return nil, nil, fmt.Errorf("row %d has %d values, not %d", i, len(row), s.cols)
		}
		vals = append(vals, row...)
	}
	arrays, types := make([]any, s.cols), make([]string, s.cols)
	var err error
	for c := range s.cols {
		switch vals[c].(type) {
		case string:
			arrays[c], err = column[string](vals, s, c)
			types[c] = "text"
		case int64:
			arrays[c], err = column[int64](vals, s, c)
			types[c] = "bigint"
		case bool:
			arrays[c], err = column[bool](vals, s, c)
			types[c] = "boolean"
		default:
			err = fmt.Errorf("column %d: no array type for %T", c, vals[c])
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return arrays, types, nil
}

// column is column c of a set's rows (vals, row by row) as a []T.
func column[T any](vals []any, s rowSet, c int) ([]T, error) {
	a := make([]T, s.n)
	for i := range a {
		v, ok := vals[i*s.cols+c].(T)
		if !ok {
			return nil, fmt.Errorf("row %d column %d: %T, want %T", i, c, vals[i*s.cols+c], *new(T))
		}
		a[i] = v
	}
	return a, nil
}

// hintPayloads encodes hints as the JSON a NOTIFY carries.
func hintPayloads(hints []store.Hint) ([]string, error) {
	out := make([]string, len(hints))
	for i, h := range hints {
		b, err := json.Marshal(h)
		if err != nil {
			return nil, fmt.Errorf("encode a hint: %w", err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// rowsPerInsert are the sizes of the multi-row INSERTs, largest first: a
// few statement texts, each prepared once, cover any number of rows.
var rowsPerInsert = [...]int{64, 16, 4, 1}

// insertRows inserts a set's rows in order, in multi-row INSERTs of the
// sizes rowsPerInsert names.
func insertRows(ctx context.Context, t *txn, s rowSet) error {
	args := make([]any, 0, rowsPerInsert[0]*s.cols)
	for i := 0; i < s.n; {
		size := 1
		for _, k := range rowsPerInsert {
			if s.n-i >= k {
				size = k
				break
			}
		}
		args = args[:0]
		for k := range size {
			args = s.row(i+k, args)
		}
		if _, err := t.q.ExecContext(ctx, insertText(s.table, s.cols, size)+s.then, args...); err != nil {
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
