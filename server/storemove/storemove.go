// Package storemove moves a sync server's data from its embedded SQLite
// store (a data directory's server.db and its directory of files) into an
// empty PostgreSQL store, whole: users, tokens, devices, memberships,
// records with their sequences, the ledger, the audit log, the head and
// the files' bytes. Devices then go on against the new store as if
// nothing had happened: their tokens, cursors and resent op ids mean what
// they meant.
//
// The move is one PostgreSQL transaction, verified before it commits: a
// move that fails or is stopped leaves the target as it was. The SQLite
// files are opened read only. The caller keeps servers off the data
// directory meanwhile (the CLI holds the lock casefile serve takes).
package storemove

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the source's driver

	"casefile/internal/pghealth"
	"casefile/server/blobstore"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
)

// ErrTargetNotEmpty is the refusal to move into a store that holds data.
var ErrTargetNotEmpty = errors.New("the target already holds a casefile store with data")

// Options say what to move where.
type Options struct {
	DataDir string // the SQLite server's data directory
	URL     string // the PostgreSQL database, postgres://…; its search_path picks the schema
	// Copied, when set, is called after each table is copied, with the
	// rows it took (for progress; the transaction is still open).
	Copied func(table string, rows int64)
}

// Count is the rows of one table.
type Count struct {
	Table string
	Rows  int64
}

// Result is what a move copied, verified and committed.
type Result struct {
	Target string  // the PostgreSQL store, for people (no password)
	Tables []Count // rows per table, in copying order
	// Files, Chunks and Bytes are the attached files' bytes moved (each
	// file once, however many records name it).
	Files, Chunks, Bytes int64
	// Dropped are the rows of the tables the move leaves behind, and why
	// that costs little (uploads in progress, which their devices send
	// again).
	Dropped []Dropped
	Head    Head
	Elapsed time.Duration
}

// Dropped is a table's rows the move left behind.
type Dropped struct {
	Table string
	Rows  int64
	Why   string
}

// Head is the head row both stores hold after the move.
type Head struct {
	Seq, CompactedThrough, LedgerThrough, AuditRows int64
	AuditHash                                       string
	AccessGen                                       int64
}

// Move copies the SQLite store of opts.DataDir into the empty PostgreSQL
// store at opts.URL (creating its tables if needed) in one transaction.
func Move(ctx context.Context, opts Options) (Result, error) {
	start := time.Now()
	var res Result
	cfg, err := pgx.ParseConfig(opts.URL)
	if err != nil {
		return res, fmt.Errorf("the database URL is not one PostgreSQL takes (%s): give postgres://USER@HOST/DATABASE, with ?search_path=SCHEMA for a schema other than public", strings.TrimPrefix(err.Error(), "cannot parse `"+opts.URL+"`: "))
	}
	if err := pghealth.GuardDial(cfg); err != nil {
		return res, err
	}
	src, err := openSource(ctx, opts.DataDir)
	if err != nil {
		return res, err
	}
	defer src.close()

	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	// One connection: the transaction's statements and the COPYs that
	// reach past database/sql to pgx must share it.
	conn, err := db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		return res, fmt.Errorf("connect to postgres %s@%s:%d/%s (check the URL's host, port, user and password, and that the server runs): %w", cfg.User, cfg.Host, cfg.Port, cfg.Database, err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("connect to postgres %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	defer tx.Rollback() //nolint:errcheck // committed when all is verified
	schema, err := pgstore.CurrentSchema(ctx, tx, cfg)
	if err != nil {
		return res, err
	}
	res.Target = fmt.Sprintf("postgres %s@%s/%s (schema %s)", cfg.User, cfg.Host, cfg.Database, schema)
	m := &mover{src: src, conn: conn, tx: tx, copied: opts.Copied, res: &res}
	if err := m.prepareTarget(ctx); err != nil {
		return res, err
	}
	if err := m.copyAll(ctx); err != nil {
		return res, err
	}
	if err := m.verify(ctx); err != nil {
		return res, fmt.Errorf("the copy did not verify, so nothing was committed: %w", err)
	}
	if err := m.analyze(ctx); err != nil {
		return res, err
	}
	if err := src.unchanged(); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit the move: %w", err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// mover is one move under way.
type mover struct {
	src    *source
	conn   *sql.Conn
	tx     *sql.Tx // the target's transaction, on conn
	copied func(string, int64)
	res    *Result
	// want is the source's rows per copied table, counted in its snapshot.
	want map[string]int64
	// one is the row copyOne set, per table.
	one map[string]oneRow
}

// oneRow is a row's columns and values.
type oneRow struct {
	cols []string
	vals []any
}

// prepareTarget brings the target's tables to this build's layout in the
// move's transaction, checks that they hold no data and that both layouts
// are this build's, and locks the head row, which every server writer
// takes first, until the move commits.
func (m *mover) prepareTarget(ctx context.Context) error {
	// A store a server already created needs no DDL, which a role that
	// may only read and write rows (as servers may run) cannot run.
	ready, err := m.targetReady(ctx)
	if err != nil {
		return err
	}
	if !ready {
		if err := pgstore.MigrateTx(ctx, m.tx); err != nil {
			return fmt.Errorf("create the target's tables: %w", err)
		}
		if err := blobstore.CreatePostgresTx(ctx, m.tx); err != nil {
			return fmt.Errorf("create the target's tables: %w", err)
		}
	}
	if err := m.checkLayouts(ctx); err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(ctx, `SELECT 1 FROM head WHERE id = 1 FOR UPDATE`); err != nil {
		return fmt.Errorf("lock the target's head: %w", err)
	}
	return m.checkEmpty(ctx)
}

// targetReady reports whether the target holds this build's layout
// whole: every migration applied, and the file store's tables.
func (m *mover) targetReady(ctx context.Context) (bool, error) {
	var found bool
	if err := m.tx.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&found); err != nil {
		return false, fmt.Errorf("look into the target: %w", err)
	}
	if !found {
		return false, nil
	}
	have, err := versions(ctx, m.tx)
	if err != nil {
		return false, fmt.Errorf("read the target's layout: %w", err)
	}
	want, err := pgstore.Versions()
	if err != nil {
		return false, err
	}
	return len(minus(want, have)) == 0 && blobstore.PostgresReady(ctx, m.tx), nil
}

// checkLayouts refuses a source or target whose migrations are not this
// build's, naming the difference.
func (m *mover) checkLayouts(ctx context.Context) error {
	sqliteWant, err := sqlitestore.Versions()
	if err != nil {
		return err
	}
	pgWant, err := pgstore.Versions()
	if err != nil {
		return err
	}
	if !slices.Equal(sqliteWant, pgWant) {
		return fmt.Errorf("this casefile's SQLite layout (%v) and PostgreSQL layout (%v) differ; it cannot move between them", sqliteWant, pgWant)
	}
	have, err := versions(ctx, m.src.server)
	if err != nil {
		return fmt.Errorf("read the layout of %s: %w", m.src.serverPath, err)
	}
	if missing := minus(sqliteWant, have); len(missing) > 0 {
		return fmt.Errorf("the server database %s has an older layout than this casefile's (migrations %s not applied): bring it up to date first by running this casefile's 'casefile admin --data %s user list' once, then move again", m.src.serverPath, join(missing), m.src.dir)
	}
	if extra := minus(have, sqliteWant); len(extra) > 0 {
		return fmt.Errorf("the server database %s was written by a newer casefile (migrations %s unknown to this one): move it with that casefile", m.src.serverPath, join(extra))
	}
	target, err := versions(ctx, m.tx)
	if err != nil {
		return fmt.Errorf("read the target's layout: %w", err)
	}
	if extra := minus(target, pgWant); len(extra) > 0 {
		return fmt.Errorf("the target store was made by a newer casefile (migrations %s unknown to this one): move with that casefile, or into another database or schema", join(extra))
	}
	return nil
}

// checkEmpty refuses a target that holds any row but the head and the
// access counter a new store starts with, with the head still at zero.
func (m *mover) checkEmpty(ctx context.Context) error {
	names := []string{chunkData, "blob_staged_data"}
	for _, t := range slices.Concat(serverTables, blobTables) {
		if t.kind == copyRows || t.kind == dropped {
			names = append(names, t.name)
		}
	}
	for _, name := range names {
		var any bool
		if err := m.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{name}.Sanitize()+`)`).Scan(&any); err != nil {
			return fmt.Errorf("look into the target's %s: %w", name, err)
		}
		if any {
			return fmt.Errorf("%w (its table %s has rows): the move fills only an empty store; name an empty database or schema (?search_path=SCHEMA), nothing was changed", ErrTargetNotEmpty, name)
		}
	}
	var seq, auditN int64
	if err := m.tx.QueryRowContext(ctx, `SELECT seq, audit_n FROM head WHERE id = 1`).Scan(&seq, &auditN); err != nil {
		return fmt.Errorf("read the target's head: %w", err)
	}
	if seq != 0 || auditN != 0 {
		return fmt.Errorf("%w (its head is at sequence %d, audit row %d): the move fills only an empty store; name an empty database or schema, nothing was changed", ErrTargetNotEmpty, seq, auditN)
	}
	return nil
}

// querier is a transaction of either store.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// versions returns the migrations a store records as applied.
func versions(ctx context.Context, q querier) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// minus returns what a holds and b does not.
func minus(a, b []int64) []int64 {
	var out []int64
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

func join(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%03d", v)
	}
	return strings.Join(s, ", ")
}

// source is the SQLite store being moved, read in one snapshot per file.
type source struct {
	// files are the source's database files and their write-ahead logs,
	// as they stood when the move began (see unchanged).
	files           map[string]fileState
	dir, serverPath string
	serverDB        *sql.DB
	server          *sql.Tx
	blobDir         string
	blobsDB         *sql.DB
	blobs           *sql.Tx // nil when the server never kept a file
}

// openSource opens a data directory's server.db and blob index to read
// only, each in a snapshot.
func openSource(ctx context.Context, dir string) (*source, error) {
	s := &source{dir: dir, serverPath: filepath.Join(dir, sqlitestore.FileName), blobDir: filepath.Join(dir, blobstore.DirName)}
	if _, err := os.Stat(s.serverPath); err != nil {
		return nil, fmt.Errorf("no server database at %s (give the --data directory casefile serve ran with): %w", s.serverPath, errors.Unwrap(err))
	}
	s.files = s.fileStates()
	var err error
	if s.serverDB, s.server, err = openReadOnly(ctx, s.serverPath); err != nil {
		return nil, err
	}
	index := filepath.Join(s.blobDir, blobstore.IndexName)
	if _, err := os.Stat(index); err == nil {
		if s.blobsDB, s.blobs, err = openReadOnly(ctx, index); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// fileState is what a database file looked like: a write through any
// connection changes its size or its time, or those of its log.
type fileState struct {
	exists bool
	size   int64
	mod    int64 // nanoseconds
}

// fileStates reads the state of the source's database files and logs.
func (s *source) fileStates() map[string]fileState {
	out := map[string]fileState{}
	index := filepath.Join(s.blobDir, blobstore.IndexName)
	for _, db := range []string{s.serverPath, index} {
		for _, p := range []string{db, db + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				out[p] = fileState{exists: true, size: fi.Size(), mod: fi.ModTime().UnixNano()}
			} else {
				out[p] = fileState{}
			}
		}
	}
	return out
}

// unchanged refuses to commit a move whose source was written while it
// was read: the snapshot may have missed the write (a database with no
// log is read as immutable), or read half of it. Only the serve lock keeps
// servers off the directory; an admin command run meanwhile takes none.
func (s *source) unchanged() error {
	for p, now := range s.fileStates() {
		if was := s.files[p]; now != was {
			return fmt.Errorf("%s changed while it was copied (a casefile admin command run meanwhile, or a server started with another lock?): nothing was committed; move again when nothing else uses %s", p, s.dir)
		}
	}
	return nil
}

func (s *source) close() {
	for _, tx := range []*sql.Tx{s.server, s.blobs} {
		if tx != nil {
			_ = tx.Rollback()
		}
	}
	for _, db := range []*sql.DB{s.serverDB, s.blobsDB} {
		if db != nil {
			db.Close()
		}
	}
}

// openReadOnly opens a SQLite file to read only and begins a snapshot.
// With no write-ahead log beside it the file is whole and read as
// immutable, which creates nothing beside it (a WAL reader would).
func openReadOnly(ctx context.Context, path string) (*sql.DB, *sql.Tx, error) {
	mode := "mode=ro"
	if _, err := os.Stat(path + "-wal"); errors.Is(err, os.ErrNotExist) {
		mode = "immutable=1"
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+mode+"&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err == nil {
		// The snapshot begins at the first read, not at BEGIN.
		var n int64
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open %s to read: %w", path, err)
	}
	return db, tx, nil
}
