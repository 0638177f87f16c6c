package sqlstore

import (
	"context"
	"database/sql"
)

// querier is what a snapshot or a write transaction asks of database/sql.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) scanner
}

// sqlQuerier is what *sql.Tx and *sql.DB both offer.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// direct is a querier over a transaction begun at once, or over a pool
// (each statement on its own, outside any transaction).
type direct struct{ sqlQuerier }

func (q direct) QueryRow(ctx context.Context, query string, args ...any) scanner {
	return q.QueryRowContext(ctx, query, args...)
}

// lazySnapshot is a read snapshot that begins its transaction at its
// first statement. A read batch whose answers the server already holds
// asks only for the access generation, which needs no snapshot of its own
// (see txn.AccessGen); with PostgreSQL, the BEGIN and ROLLBACK around that
// one statement were two of its three round trips.
type lazySnapshot struct {
	ctx  context.Context // the read's, which the transaction lives for
	db   *sql.DB
	opts *sql.TxOptions
	d    *Dialect
	tx   *sql.Tx
	err  error
}

func (l *lazySnapshot) begin() (*sql.Tx, error) {
	if l.tx == nil && l.err == nil {
		l.tx, l.err = l.db.BeginTx(l.ctx, l.opts)
		// A pooled connection found dead at BEGIN (the database
		// restarted, the network reset it) has read nothing of the
		// snapshot; the pool has dropped it, so the snapshot begins
		// again, once, on another rather than fail the read.
		if l.err != nil && l.d.connLost(l.ctx, l.err) {
			l.tx, l.err = l.db.BeginTx(l.ctx, l.opts)
		}
	}
	return l.tx, l.err
}

// begun says whether the transaction has begun.
func (l *lazySnapshot) begun() bool { return l.tx != nil || l.err != nil }

func (l *lazySnapshot) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := l.begin()
	if err != nil {
		return nil, err
	}
	return tx.ExecContext(ctx, query, args...)
}

func (l *lazySnapshot) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	tx, err := l.begin()
	if err != nil {
		return nil, err
	}
	return tx.QueryContext(ctx, query, args...)
}

func (l *lazySnapshot) QueryRow(ctx context.Context, query string, args ...any) scanner {
	tx, err := l.begin()
	if err != nil {
		return errRow{err}
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// end ends the snapshot, if it began.
func (l *lazySnapshot) end() {
	if l.tx != nil {
		_ = l.tx.Rollback() // a read has nothing to keep
	}
}

// errRow is a row that could not be read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// beginFirst is a write transaction's querier until its first statement,
// which begins it (txn.begun) before it goes. The statement goes on the
// querier BEGIN left in the transaction (txn.q), not on the one it had
// before: a BEGIN that met a dead pooled connection began again on
// another, and the first is closed. (It went on the first, and failed
// with "sql: connection is already closed".)
type beginFirst struct {
	t *txn
}

func (b beginFirst) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := b.t.begun(ctx); err != nil {
		return nil, err
	}
	return b.t.q.ExecContext(ctx, query, args...)
}

func (b beginFirst) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := b.t.begun(ctx); err != nil {
		return nil, err
	}
	return b.t.q.QueryContext(ctx, query, args...)
}

func (b beginFirst) QueryRow(ctx context.Context, query string, args ...any) scanner {
	if err := b.t.begun(ctx); err != nil {
		return errRow{err}
	}
	return b.t.q.QueryRow(ctx, query, args...)
}

// scanFunc is a row's Scan as a scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
