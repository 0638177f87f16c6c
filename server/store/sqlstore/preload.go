package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"casefile/server/store"
)

// Preload reads which of opIDs the ledger holds and the rows of recordIDs
// the records table holds, one statement each, and notes the others as
// absent: a push's ops then need no lookup of their op id, nor of their
// record (Record hands out each row read once). The transaction holds the write lock, so nothing
// else can add them meanwhile; what it writes itself it tracks (PutLedger,
// PutRecord).
func (t *txn) Preload(ctx context.Context, opIDs, recordIDs []string) error {
	p := &t.pending
	recordIDs = slices.Compact(slices.Sorted(slices.Values(recordIDs)))
	// A record written and not yet sent is the transaction's own.
	recordIDs = slices.DeleteFunc(recordIDs, func(id string) bool { _, ok := p.lastWrite[id]; return ok })
	var ops []string
	for _, id := range opIDs {
		if _, ok := p.findLedger(id); !ok {
			ops = append(ops, id)
		}
	}
	held, err := t.held(ctx, "SELECT op_id FROM ledger WHERE op_id IN ", ops)
	if err != nil {
		return fmt.Errorf("preload ledger: %w", err)
	}
	for _, id := range ops {
		if !held[id] {
			p.noteAbsent(id)
		}
	}
	found := map[string]bool{}
	err = t.lookup(ctx, "SELECT "+recordCols+" FROM records WHERE id IN ", recordIDs, func(rows *sql.Rows) error {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		found[r.ID] = true
		if p.records == nil {
			p.records = map[string]store.Record{}
		}
		p.records[r.ID] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("preload records: %w", err)
	}
	for _, id := range recordIDs {
		if !found[id] {
			if p.recordAbsent == nil {
				p.recordAbsent = map[string]bool{}
			}
			p.recordAbsent[id] = true
		}
	}
	return nil
}

// PreloadMembers reads whether each users[i] is a member of matterIDs[i],
// for IsMember to answer.
func (t *txn) PreloadMembers(ctx context.Context, users, matterIDs []string) error {
	p := &t.pending
	if p.members == nil {
		p.members = map[memberKey]bool{}
	}
	var ask []memberKey
	for i := range users {
		k := memberKey{users[i], matterIDs[i]}
		if _, known := p.members[k]; !known {
			ask = append(ask, k)
		}
	}
	for len(ask) > 0 {
		size := lookupSize(len(ask))
		n := min(size, len(ask))
		args := make([]any, 0, 2*size)
		var values strings.Builder
		for i := range size {
			if i > 0 {
				values.WriteString(", ")
			}
			fmt.Fprintf(&values, "($%d, $%d)", 2*i+1, 2*i+2)
			k := ask[min(i, n-1)]
			args = append(args, k.user, k.matter)
		}
		rows, err := t.q.QueryContext(ctx, `WITH v(u, m) AS (VALUES `+values.String()+`)
			SELECT user_name, matter_id FROM members JOIN v ON user_name = v.u AND matter_id = v.m`, args...)
		if err != nil {
			return fmt.Errorf("preload memberships: %w", t.mapErr(err))
		}
		for _, k := range ask[:n] {
			p.members[k] = false
		}
		for rows.Next() {
			var k memberKey
			if err := rows.Scan(&k.user, &k.matter); err != nil {
				rows.Close()
				return fmt.Errorf("preload memberships: %w", err)
			}
			p.members[k] = true
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("preload memberships: %w", t.mapErr(err))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("preload memberships: %w", t.mapErr(err))
		}
		ask = ask[n:]
	}
	return nil
}

type memberKey struct{ user, matter string }

// idsPerLookup are the sizes of a lookup's IN list: a few statement texts,
// each prepared once. A list is padded to the next size with its last id.
var idsPerLookup = [...]int{8, 64, 512}

// lookupSize is the size of the list a lookup of n things is padded to.
func lookupSize(n int) int {
	for _, s := range idsPerLookup {
		if n <= s {
			return s
		}
	}
	return idsPerLookup[len(idsPerLookup)-1]
}

// held runs query (ending in "IN ") over ids, in lists of idsPerLookup,
// and returns the ids it answers.
func (t *txn) held(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := t.lookup(ctx, query, ids, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	return out, err
}

// lookup runs query (ending in "IN ") over ids, in lists of idsPerLookup,
// and calls row for each row of the answers.
func (t *txn) lookup(ctx context.Context, query string, ids []string, row func(*sql.Rows) error) error {
	for len(ids) > 0 {
		size := lookupSize(len(ids))
		n := min(size, len(ids))
		args := make([]any, size)
		for i := range size {
			args[i] = ids[min(i, n-1)]
		}
		if err := t.collect(ctx, query+placeholders(1, size), args, row); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (t *txn) collect(ctx context.Context, query string, args []any, row func(*sql.Rows) error) error {
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return t.mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// placeholders is "($from, …, $(from+n-1))".
func placeholders(from, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	b.WriteByte(')')
	return b.String()
}
