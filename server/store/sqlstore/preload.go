package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Preload reads which of opIDs the ledger holds and which of recordIDs
// the records table holds, one statement each, and notes the others as
// absent: a push's ops then need no lookup of their op id, nor of their
// record when it is new. The transaction holds the write lock, so nothing
// else can add them meanwhile; what it writes itself it tracks (PutLedger,
// PutRecord).
func (t *txn) Preload(ctx context.Context, opIDs, recordIDs []string) error {
	p := &t.pending
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
	held, err = t.held(ctx, "SELECT id FROM records WHERE id IN ", recordIDs)
	if err != nil {
		return fmt.Errorf("preload records: %w", err)
	}
	for _, id := range recordIDs {
		if !held[id] {
			if p.recordAbsent == nil {
				p.recordAbsent = map[string]bool{}
			}
			p.recordAbsent[id] = true
		}
	}
	return nil
}

// idsPerLookup are the sizes of a lookup's IN list: a few statement texts,
// each prepared once. A list is padded to the next size with its last id.
var idsPerLookup = [...]int{8, 64, 512}

// held runs query (ending in "IN ") over ids, in lists of idsPerLookup,
// and returns the ids it answers.
func (t *txn) held(ctx context.Context, query string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		size := idsPerLookup[len(idsPerLookup)-1]
		for _, s := range idsPerLookup {
			if len(ids) <= s {
				size = s
				break
			}
		}
		n := min(size, len(ids))
		args := make([]any, size)
		for i := range size {
			args[i] = ids[min(i, n-1)]
		}
		if err := t.collect(ctx, query+placeholders(1, size), args, out); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func (t *txn) collect(ctx context.Context, query string, args []any, into map[string]bool) error {
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return t.mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = true
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
