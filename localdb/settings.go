package localdb

import (
	"context"
	"database/sql"
	"fmt"
)

// metaWorkOffline is "1" while the person has chosen to work offline.
const metaWorkOffline = "work_offline"

// WorkOffline reports whether the person chose to work offline, as last
// set by SetWorkOffline (false until then).
func (db *DB) WorkOffline(ctx context.Context) (bool, error) {
	if err := db.enter(); err != nil {
		return false, fmt.Errorf("read work offline: %w", err)
	}
	defer db.leave()
	v, err := getMeta(ctx, db.r, metaWorkOffline)
	if err != nil {
		return false, fmt.Errorf("read work offline: %w", err)
	}
	return v == "1", nil
}

// SetWorkOffline remembers the person's work offline choice, so that it
// holds from the next start on, before any network traffic.
func (db *DB) SetWorkOffline(ctx context.Context, on bool) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("remember work offline: %w", err)
	}
	defer db.leave()
	v := ""
	if on {
		v = "1"
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return setMeta(ctx, tx, metaWorkOffline, v) })
	if err != nil {
		return fmt.Errorf("remember work offline: %w", err)
	}
	return nil
}
