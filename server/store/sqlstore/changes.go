package sqlstore

import (
	"context"
	"fmt"
	"math"

	"casefile/internal/fieldtext"
	"casefile/server/store"
)

// changeCols are the columns of a record a pull sends (scanChange).
const changeCols = `id, collection, matter_id, version, seq, deleted, fields, created_by, created_at, updated_by, updated_at`

// scanChange reads a row of changeCols, and the length of its fields text;
// with text, fields that are canonical stay text (store.ChangeQuery.Text).
func scanChange(s scanner, text bool) (store.Record, int, error) {
	var r store.Record
	var fields string
	var created, updated int64
	err := s.Scan(&r.ID, &r.Collection, &r.MatterID, &r.Version, &r.Seq, &r.Deleted,
		&fields, &r.CreatedBy, &created, &r.UpdatedBy, &updated)
	if err != nil {
		return r, 0, err
	}
	if text && fieldtext.Canonical(fields) {
		r.FieldsText = fields
	} else if r.Fields, err = decodeFields(fields); err != nil {
		return r, 0, fmt.Errorf("record %s fields: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return r, len(fields), nil
}

func (t *txn) changesWhere(q store.ChangeQuery) (string, []any) {
	return changesWhere(q, "matter_id")
}

// changesWhere is the condition of a user's changes in q's range; matter
// is how the matter column is named in it.
func changesWhere(q store.ChangeQuery, matter string) (string, []any) {
	where := `seq > $1 AND seq <= $2`
	args := []any{q.After, q.UpTo}
	if !q.All {
		where += ` AND ` + matter + ` IN (SELECT matter_id FROM members WHERE user_name = $3)`
		args = append(args, q.User)
	}
	return where, args
}

// seqWindow is how many sequence numbers per record of a page a pull
// first looks through in sequence order (see Changes).
const seqWindow = 8

// page is a page of changes as Changes reads it: its records, and the
// bytes of their fields text against its query's MaxBytes.
type page struct {
	q    store.ChangeQuery
	recs []store.Record
	text int64
}

// full reports whether the page's fields text has reached its MaxBytes.
func (p *page) full() bool { return p.q.MaxBytes > 0 && p.text >= int64(p.q.MaxBytes) }

// Changes returns a page of a user's changes in sequence order. SQLite
// plans the query through records_matter_seq and sorts every visible row
// of the range to return the first page, so each page of a first sync
// cost all the records after it. The next seqWindow × limit sequence
// numbers — the whole range when it is no longer (the last pages of a
// large pull, every page of a small one) — are read in sequence order
// instead, stopping at the limit (Dialect.NoIndex keeps the planner off
// the matter index); the rest of a page that is not full there comes
// from the query as planned. A page then reads at most seqWindow × limit
// rows it does not return (a user who sees fewer than one record in
// seqWindow) before the planned query, and sorts none of them.
// PostgreSQL plans the query well as it is (Dialect.NoIndex is "").
//
// A page with MaxBytes stops at the record that fills it (changeRange).
func (t *txn) Changes(ctx context.Context, q store.ChangeQuery) ([]store.Record, error) {
	if err := t.flushRecords(ctx); err != nil {
		return nil, err
	}
	p := &page{q: q}
	if q.All || q.Limit <= 0 || t.d.NoIndex == "" {
		// In sequence order (SQLite's seq index) when it sees every
		// matter; sorted otherwise.
		_, err := t.changeRange(ctx, p, q, t.changesWhere, q.All)
		return p.recs, err
	}
	near := q
	near.UpTo = min(q.UpTo, q.After+int64(seqWindow*q.Limit))
	nearWhere := func(q store.ChangeQuery) (string, []any) { return changesWhere(q, t.d.NoIndex+"matter_id") }
	n, err := t.changeRange(ctx, p, near, nearWhere, true)
	if err != nil || p.full() || n == q.Limit || near.UpTo == q.UpTo {
		return p.recs, err
	}
	rest := q
	rest.After, rest.Limit = near.UpTo, q.Limit-n
	_, err = t.changeRange(ctx, p, rest, t.changesWhere, false)
	return p.recs, err
}

// changeRange reads the changes of r, whose condition where builds, onto
// p, and returns how many it read. With a byte budget (p.q.MaxBytes) it
// stops at the record that fills the page. Where the engine hands rows
// over as it reads them in sequence order (Dialect.Streams, and ordered:
// no sort) the read simply stops there. Elsewhere — PostgreSQL sends every
// row of a query whether or not they are read, and SQLite's sort holds
// every row it returns until the first comes out — the range is measured
// first (changeExtent) and then only the records that fit are read: a page
// of 5,000 long notes read them all to send a few.
func (t *txn) changeRange(ctx context.Context, p *page, r store.ChangeQuery,
	where func(store.ChangeQuery) (string, []any), ordered bool) (int, error) {
	if p.q.MaxBytes > 0 && !(ordered && t.d.Streams) {
		n, last, err := t.changeExtent(ctx, p, r, where)
		if err != nil || n == 0 {
			return 0, err
		}
		r.Limit, r.UpTo = n, last
	}
	w, args := where(r)
	return t.scanRange(ctx, r, changeCols, w, args, func(s scanner) (bool, error) {
		rec, size, err := scanChange(s, p.q.Text)
		if err != nil {
			return false, err
		}
		p.recs = append(p.recs, rec)
		p.text += int64(size)
		return !p.full(), nil
	})
}

// changeExtent is how many records of r fit what is left of p's budget,
// and the sequence of the last: records up to the one that fills it. It
// reads each row's length, not its text (SQLite's octet_length reads the
// row's header, PostgreSQL's the size a TOASTed value records), so that
// measuring long notes costs what measuring short ones does.
func (t *txn) changeExtent(ctx context.Context, p *page, r store.ChangeQuery,
	where func(store.ChangeQuery) (string, []any)) (n int, last int64, err error) {
	text := p.text
	w, args := where(r)
	n, err = t.scanRange(ctx, r, `seq, octet_length(fields)`, w, args, func(s scanner) (bool, error) {
		var size int64
		if err := s.Scan(&last, &size); err != nil {
			return false, err
		}
		text += size
		return text < int64(p.q.MaxBytes), nil
	})
	return n, last, err
}

// scanRange runs one query of a page, selecting cols, and calls row with
// each of its rows in sequence order until row returns false; it returns
// how many rows it passed to row.
func (t *txn) scanRange(ctx context.Context, q store.ChangeQuery, cols, where string, args []any,
	row func(scanner) (bool, error)) (int, error) {
	limit := int64(math.MaxInt32)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	args = append(args, limit)
	// The text is built from constants (changesWhere, the callers'
	// columns); every value is a bound parameter.
	rows, err := t.q.QueryContext(ctx, `SELECT `+cols+` FROM records WHERE `+where+ // #nosec G202
		fmt.Sprintf(` ORDER BY seq LIMIT $%d`, len(args)), args...)
	if err != nil {
		return 0, fmt.Errorf("read changes: %w", t.mapErr(err))
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		more, err := row(rows)
		if err != nil {
			return n, fmt.Errorf("read changes: %w", err)
		}
		if !more {
			return n, nil
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read changes: %w", t.mapErr(err))
	}
	return n, nil
}

func (t *txn) CountChanges(ctx context.Context, q store.ChangeQuery) (int64, error) {
	if err := t.flushRecords(ctx); err != nil {
		return 0, err
	}
	where, args := t.changesWhere(q)
	var n int64
	if err := t.q.QueryRow(ctx, `SELECT COUNT(*) FROM records WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count changes: %w", t.mapErr(err))
	}
	return n, nil
}
