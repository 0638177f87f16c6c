package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// Meta keys the sync side keeps.
const (
	metaCursor   = "cursor"    // the server's pull cursor, as a decimal
	metaLastSync = "last_sync" // RFC 3339 time of the last applied pull
	metaResync   = MetaResync
)

// ErrBadCursor is a sync cursor in the local database that no server
// gives: not a whole number, or below 0. It is damage here, not a fault of
// the link or the server, and asking the server again cannot mend it;
// `casefile doctor --repair` does, by pulling everything again.
var ErrBadCursor = errors.New("the sync cursor in the local database is damaged")

// parseCursor reads the stored pull cursor: 0 when unset (nothing pulled
// yet), an error matching ErrBadCursor when it is no position at all.
func parseCursor(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return n, fmt.Errorf("%w (it reads %q): run 'casefile doctor --repair' to pull everything again from the server; changes saved offline are kept", ErrBadCursor, v)
	}
	return n, nil
}

// MetaServerHead is the setting that holds the highest change sequence
// the server has told this device (in push, pull and health answers), as
// a decimal. It only grows.
const MetaServerHead = "server_head"

// MetaResync is the setting that reads "1" while a full resync runs: the
// syncer's pulls then read everything, whatever the compaction mark.
const MetaResync = "resync"

// Meta reads a sync setting ("" when unset).
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	if err := db.enter(); err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	defer db.leave()
	return getMeta(ctx, db.r, key)
}

func getMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, mapErr(err))
	}
	return v, nil
}

// NoteHead records a change sequence the server said it had reached, if
// it is the highest yet: an op sent from now on is answered no lower.
func (db *DB) NoteHead(ctx context.Context, head int64) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("note server head: %w", err)
	}
	defer db.leave()
	if err := db.tx(ctx, func(tx *sql.Tx) error { return raiseHead(ctx, tx, head) }); err != nil {
		return fmt.Errorf("note server head: %w", err)
	}
	return nil
}

// knownHead is the highest change sequence the server has told this device.
func knownHead(ctx context.Context, q querier) (int64, error) {
	v, err := getMeta(ctx, q, MetaServerHead)
	if err != nil {
		return 0, err
	}
	head, _ := strconv.ParseInt(v, 10, 64)
	return head, nil
}

func raiseHead(ctx context.Context, q querier, head int64) error {
	old, err := knownHead(ctx, q)
	if err != nil || head <= old {
		return err
	}
	return setMeta(ctx, q, MetaServerHead, strconv.FormatInt(head, 10))
}

// SetMeta writes a sync setting.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	defer db.leave()
	if key == "" {
		return errors.New("set setting: the key is empty")
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return setMeta(ctx, tx, key, value) })
	if err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	return nil
}

func setMeta(ctx context.Context, q querier, key, value string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}
