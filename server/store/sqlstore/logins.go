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

func (t *txn) LoginFailures(ctx context.Context, key string) (store.LoginFailures, error) {
	f := store.LoginFailures{Key: key}
	var start, last, locked int64
	err := t.q.QueryRow(ctx, `SELECT failures, window_start, last_failure, locked_until, lockouts
		FROM login_failures WHERE key = $1`, key).Scan(&f.Failures, &start, &last, &locked, &f.Lockouts)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read login failures: %w", t.mapErr(err))
	}
	f.WindowStart, f.LastFailure, f.LockedUntil = timeOrZero(start), timeOrZero(last), timeOrZero(locked)
	return f, nil
}

func (t *txn) PutLoginFailures(ctx context.Context, f store.LoginFailures) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO login_failures (key, failures, window_start, last_failure, locked_until, lockouts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
			last_failure = excluded.last_failure, locked_until = excluded.locked_until, lockouts = excluded.lockouts`,
		f.Key, f.Failures, orZero(f.WindowStart), orZero(f.LastFailure), orZero(f.LockedUntil), f.Lockouts)
	if err != nil {
		return fmt.Errorf("write login failures: %w", t.mapErr(err))
	}
	return nil
}

func (t *txn) DeleteLoginFailures(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if _, err := t.q.ExecContext(ctx, `DELETE FROM login_failures WHERE key = $1`, k); err != nil {
			return fmt.Errorf("delete login failures: %w", t.mapErr(err))
		}
	}
	return nil
}

func (t *txn) PruneLoginFailures(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM login_failures WHERE last_failure < $1 AND locked_until < $1`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("prune login failures: %w", t.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune login failures: %w", err)
	}
	return n, nil
}
