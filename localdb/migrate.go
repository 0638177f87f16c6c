package localdb

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered step of the database schema.
type migration struct {
	Version int
	Name    string
	SQL     string
}

// embeddedMigrations reads migrations/NNNN_name.sql in version order.
func embeddedMigrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		migs = append(migs, migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.Version - b.Version })
	for i := 1; i < len(migs); i++ {
		if migs[i].Version == migs[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a number", migs[i-1].Name, migs[i].Name)
		}
	}
	return migs, nil
}

// migrate applies the migrations the database has not seen, all in one
// transaction: a failure leaves the database as it was, queued ops included.
func migrate(ctx context.Context, w *sql.DB, migs []migration, now time.Time) (err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return mapErr(err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&current); err != nil {
		return mapErr(err)
	}
	latest := 0
	if len(migs) > 0 {
		latest = migs[len(migs)-1].Version
	}
	if current > latest {
		return fmt.Errorf("schema %d, this casefile knows %d: %w", current, latest, ErrNewerSchema)
	}
	for _, m := range migs {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("%s: %w", m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, nanos(now)); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(tx.Commit())
}

// SchemaVersion returns the number of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	defer db.leave()
	var v int
	if err := db.r.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", mapErr(err))
	}
	return v, nil
}
