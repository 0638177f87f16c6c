package blobstore

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"casefile/internal/pghealth"
)

//go:embed migrations/postgres.sql
var postgresSchema string

// postgresObjects are the tables and indexes postgresSchema creates.
var postgresObjects = func() []string {
	var out []string
	for _, m := range regexp.MustCompile(`CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)`).FindAllStringSubmatch(postgresSchema, -1) {
		out = append(out, m[1])
	}
	return out
}()

// schemaLock is the advisory lock replicas take to create the tables once.
const schemaLock = 0x626c6f62 // "blob"

// Waits on PostgreSQL the store's sessions bound, unless the URL sets
// them: a chunk's transaction waits at most lockWait for a lock (another
// replica's upload for the same user holds the quota's), and PostgreSQL
// ends a transaction of ours idle for idleInTx (its replica killed, or
// its link gone silent), freeing what it held. The record store's
// sessions use the same (pgstore).
const (
	lockWait = "10s"
	idleInTx = "30s"
)

// pingWait bounds the check of a pooled connection before its use, when
// it has been idle or was taken before another was found dead
// (pghealth.Pool.ShouldPing).
const pingWait = 5 * time.Second

// OpenPostgres opens a store whose chunks are rows of the database at url
// (the server's own; search_path may name the schema), so that every
// replica on the database serves every file.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if err := pghealth.GuardDial(cfg); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"lock_timeout": lockWait, "idle_in_transaction_session_timeout": idleInTx} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	health := &pghealth.Pool{Ping: pingWait}
	db := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(health.ShouldPing))
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8) // database/sql keeps 2: a burst of chunks would connect anew
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := createPostgres(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlStore{db: db, bytes: pgBytes{}, now: time.Now, close: db.Close, health: health}, nil
}

func createPostgres(ctx context.Context, db *sql.DB) error {
	if PostgresReady(ctx, db) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // committed below when all went well
	if err := CreatePostgresTx(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// PostgresReady reports whether the tables and indexes of the store are
// all in q's schema: then opening it needs no DDL, which a role without
// CREATE on the schema may not run even as IF NOT EXISTS. An error reads
// as not ready (creating them will say what is wrong).
func PostgresReady(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) bool {
	var have int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = ANY($1)`,
		postgresObjects).Scan(&have)
	return err == nil && have == len(postgresObjects)
}

// CreatePostgresTx creates the PostgreSQL store's tables, where missing,
// inside tx, which the caller commits or rolls back (a move fills them in
// the same transaction).
func CreatePostgresTx(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", schemaLock)); err != nil {
		return fmt.Errorf("lock blob tables: %w", err)
	}
	if _, err := tx.ExecContext(ctx, postgresSchema); err != nil {
		return fmt.Errorf("create blob tables: %w", err)
	}
	return nil
}

// pgBytes keeps chunks in tables, in the index's transactions.
type pgBytes struct{}

func (pgBytes) putStaged(ctx context.Context, tx *txn, upload string, n int, data []byte) error {
	if data == nil {
		data = []byte{} // an empty file's one chunk is empty, not NULL
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO blob_staged_data (upload, n, data) VALUES ($1, $2, $3)
		ON CONFLICT (upload, n) DO UPDATE SET data = excluded.data`, upload, n, data)
	return err
}

// lockUser takes a transaction-scoped advisory lock keyed by the user's
// name: replicas' uploads for one user take turns at the quota check.
func (pgBytes) lockUser(ctx context.Context, tx *txn, user string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('casefile upload quota ' || $1, 0))`, user)
	return err
}

func pgRead(ctx context.Context, q querier, query string, args ...any) ([]byte, error) {
	var b []byte
	err := q.QueryRowContext(ctx, query, args...).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

func (pgBytes) staged(ctx context.Context, q querier, upload string, n int) ([]byte, error) {
	return pgRead(ctx, q, `SELECT data FROM blob_staged_data WHERE upload = $1 AND n = $2`, upload, n)
}

func (pgBytes) promote(ctx context.Context, tx *txn, upload, hash string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO blob_data (hash, n, data) SELECT $1, n, data FROM blob_staged_data WHERE upload = $2
		ON CONFLICT (hash, n) DO NOTHING`, hash, upload); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM blob_staged_data WHERE upload = $1`, upload)
	return err
}

func (pgBytes) dropStaged(ctx context.Context, tx *txn, upload string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM blob_staged_data WHERE upload = $1`, upload)
	return err
}

// dropStagedChunk deletes the bytes before Commit or Staged deletes the
// index row, the order PutChunk writes them in, so the two never wait
// for each other's row locks.
func (pgBytes) dropStagedChunk(ctx context.Context, tx *txn, upload string, n int) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM blob_staged_data WHERE upload = $1 AND n = $2`, upload, n)
	return err
}

func (pgBytes) chunk(ctx context.Context, q querier, hash string, n int) ([]byte, error) {
	return pgRead(ctx, q, `SELECT data FROM blob_data WHERE hash = $1 AND n = $2`, hash, n)
}

func (pgBytes) drop(ctx context.Context, tx *txn, hash string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM blob_data WHERE hash = $1`, hash)
	return err
}
