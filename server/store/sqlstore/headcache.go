package sqlstore

import (
	"context"
	"fmt"
)

// headCache holds, for one transaction, the head row: its change sequence
// and audit chain tail, which every op of a push advances, move here and
// reach the row once, before commit (or before SQL that reads or moves
// them itself), instead of in two or three statements per op. The write
// transaction holds the head lock from its start (SQLite's single writer;
// with Dialect.LockHead, the statement that takes the lock also fills the
// cache), so no other writer can move the row meanwhile; Head answers from
// here too, as a push asks it before and after each batch of a group (with
// PostgreSQL, a round trip each while the lock is held). A read transaction's jobs were all handed in before it began,
// so the first read of the row serves them all.
type headCache struct {
	seq, auditN int64
	auditHash   string
	// The compaction marks, which only Compact moves (and keeps here).
	compactedThrough, ledgerThrough int64
	dirty                           bool // differs from the row
}

// cachedHead returns the transaction's head cache, reading the row the
// first time.
func (t *txn) cachedHead(ctx context.Context) (*headCache, error) {
	if err := t.begun(ctx); err != nil {
		return nil, err
	}
	if t.head != nil {
		return t.head, nil
	}
	return t.readHead(ctx, "")
}

// headCols are the head row's columns the cache holds.
const headCols = `seq, audit_n, audit_hash, compacted_through, ledger_through`

// headQuery reads the head row.
const headQuery = `SELECT ` + headCols + ` FROM head WHERE id = 1`

// lockQuery takes the head's lock in a transaction that begins with it
// (Dialect.Begin), reading the head and the access generation: the
// generation is read in the statement's snapshot, which begins after
// anything the transaction was asked to do was handed to it.
const lockQuery = `SELECT ` + headCols + `, (SELECT n FROM access_gen WHERE id = 1) FROM head WHERE id = 1 FOR UPDATE`

// readHead reads the head row into the cache, with lock after the query
// (" FOR UPDATE" to take the row's lock as well).
func (t *txn) readHead(ctx context.Context, lock string) (*headCache, error) {
	h := &headCache{}
	if err := t.q.QueryRow(ctx, headQuery+lock).
		Scan(&h.seq, &h.auditN, &h.auditHash, &h.compactedThrough, &h.ledgerThrough); err != nil {
		return nil, fmt.Errorf("read head: %w", t.mapErr(err))
	}
	t.head = h
	return h, nil
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
