package sqlstore

import (
	"context"
	"fmt"
)

// headCache holds, for one write transaction, the head row's change
// sequence and audit chain tail, which every op of a push advances: they
// move here and reach the row once, before commit (or before SQL that
// reads or moves them itself), instead of in two or three statements per
// op. The write transaction holds the head lock from its start (SQLite's
// single writer, PostgreSQL's LockHead), so no other writer can move the
// row meanwhile.
type headCache struct {
	seq, auditN int64
	auditHash   string
	dirty       bool // differs from the row
}

// cachedHead returns the transaction's head cache, reading the row the
// first time.
func (t *txn) cachedHead(ctx context.Context) (*headCache, error) {
	if t.head != nil {
		return t.head, nil
	}
	h := &headCache{}
	if err := t.q.QueryRowContext(ctx, `SELECT seq, audit_n, audit_hash FROM head WHERE id = 1`).
		Scan(&h.seq, &h.auditN, &h.auditHash); err != nil {
		return nil, fmt.Errorf("read head: %w", t.mapErr(err))
	}
	t.head = h
	return h, nil
}

// flushHead writes the cached head to the row and forgets it, for SQL that
// reads or moves the row itself, and before commit.
func (t *txn) flushHead(ctx context.Context) error {
	h := t.head
	t.head = nil
	if h == nil || !h.dirty {
		return nil
	}
	if _, err := t.q.ExecContext(ctx, `UPDATE head SET seq = $1, audit_n = $2, audit_hash = $3 WHERE id = 1`,
		h.seq, h.auditN, h.auditHash); err != nil {
		return fmt.Errorf("write head: %w", t.mapErr(err))
	}
	return nil
}

// snapshotHead copies the cache for a savepoint to restore on rollback:
// the rollback undoes whatever the savepoint wrote to the row, the
// restored copy undoes what it did to the cache.
func (t *txn) snapshotHead() *headCache {
	if t.head == nil {
		return nil
	}
	c := *t.head
	return &c
}
