package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"casefile/server/store"
)

// orZero keeps a zero time as 0 and back, so "not locked" survives a
// round trip.
func orZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func timeOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicro(us)
}

// loginFailuresColumns are a count's columns in the order scanLoginFailures
// reads them.
const loginFailuresColumns = `key, failures, window_start, last_failure, locked_until, lockouts, audited_at, unaudited, unaudited_since`

// scanLoginFailures reads a row of loginFailuresColumns.
func scanLoginFailures(scan func(dest ...any) error) (store.LoginFailures, error) {
	var f store.LoginFailures
	var start, last, locked, audited, since int64
	if err := scan(&f.Key, &f.Failures, &start, &last, &locked, &f.Lockouts, &audited, &f.Unaudited, &since); err != nil {
		return f, err
	}
	f.WindowStart, f.LastFailure, f.LockedUntil = timeOrZero(start), timeOrZero(last), timeOrZero(locked)
	f.AuditedAt, f.UnauditedSince = timeOrZero(audited), timeOrZero(since)
	return f, nil
}

func (t *txn) LoginFailures(ctx context.Context, key string) (store.LoginFailures, error) {
	f, err := scanLoginFailures(t.q.QueryRow(ctx, `SELECT `+loginFailuresColumns+` FROM login_failures WHERE key = $1`, key).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return store.LoginFailures{Key: key}, nil
	}
	if err != nil {
		return store.LoginFailures{Key: key}, fmt.Errorf("read login failures: %w", t.mapErr(err))
	}
	return f, nil
}

func (t *txn) PutLoginFailures(ctx context.Context, f store.LoginFailures) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO login_failures (`+loginFailuresColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			last_failure = excluded.last_failure, locked_until = excluded.locked_until, lockouts = excluded.lockouts,
			audited_at = excluded.audited_at, unaudited = excluded.unaudited, unaudited_since = excluded.unaudited_since`,
		f.Key, f.Failures, orZero(f.WindowStart), orZero(f.LastFailure), orZero(f.LockedUntil), f.Lockouts,
		orZero(f.AuditedAt), f.Unaudited, orZero(f.UnauditedSince))
	if err != nil {
		return fmt.Errorf("write login failures: %w", t.mapErr(err))
	}
	return nil
}

// DeleteLoginFailures deletes each key's count with one statement that
// returns it, so that a successful login learns of failures still to be
// audited without a read of its own.
func (t *txn) DeleteLoginFailures(ctx context.Context, keys ...string) ([]store.LoginFailures, error) {
	var out []store.LoginFailures
	for _, k := range keys {
		f, err := scanLoginFailures(t.q.QueryRow(ctx, `DELETE FROM login_failures WHERE key = $1 RETURNING `+loginFailuresColumns, k).Scan)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("delete login failures: %w", t.mapErr(err))
		}
		out = append(out, f)
	}
	return out, nil
}

func (t *txn) UnauditedLoginFailures(ctx context.Context, auditedBefore time.Time, limit int) ([]store.LoginFailures, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT `+loginFailuresColumns+` FROM login_failures
		WHERE unaudited > 0 AND audited_at < $1 ORDER BY key LIMIT $2`, auditedBefore.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("read unaudited login failures: %w", t.mapErr(err))
	}
	defer rows.Close()
	var out []store.LoginFailures
	for rows.Next() {
		f, err := scanLoginFailures(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("read unaudited login failures: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unaudited login failures: %w", t.mapErr(err))
	}
	return out, nil
}

func (t *txn) PruneLoginFailures(ctx context.Context, before time.Time) (int64, error) {
	// A count whose failures still wait for their audit row stays until
	// the row is written: pruning it would lose them.
	res, err := t.q.ExecContext(ctx, `DELETE FROM login_failures WHERE last_failure < $1 AND locked_until < $1 AND unaudited = 0`,
		before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("prune login failures: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune login failures: %w", err)
	}
	return n, nil
}
