// Package localdb is a client's local database: records as the user sees
// them, the outbox of ops waiting for the server, open conflicts and the
// append-only journal, in one SQLite file.
//
// Every user write (create, update, delete, import) changes the record,
// queues its op and appends a journal entry in one transaction; nothing else
// writes records except the sync side, which applies the server's answers.
package localdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"casefile/internal/sqlitefile"
	"casefile/internal/stmtcache"
	"casefile/model"
)

// Errors of the storage itself; callers test them with errors.Is. The
// driver's own error stays reachable with errors.Unwrap for logs.
var (
	ErrBusy    = errors.New("the local database is busy (another casefile may be writing); try again")
	ErrFull    = errors.New("the disk is full; free some space and try again")
	ErrCorrupt = errors.New("the local database file is damaged; run 'casefile doctor --repair' to rebuild it from the server (it keeps the damaged file and salvages your unsent changes first)")
	ErrStorage = errors.New("the local database failed")
	// ErrCannotOpen says the file cannot be opened or written: a missing
	// directory, missing permissions, a read-only disk.
	ErrCannotOpen = errors.New("cannot open the local database file for writing; check that its directory exists and is writable")
	// ErrInConflict refuses edits to a record whose conflict waits for review.
	ErrInConflict = errors.New("the record has a conflict; resolve it first")
	// ErrNewerSchema refuses a database written by a newer casefile.
	ErrNewerSchema = errors.New("the local database was written by a newer casefile; update casefile")
	// ErrClosed refuses a call made after Close.
	ErrClosed = errors.New("the local database is closed")
)

// readers bounds the read pool: the UI, a search and a list at once.
const readers = 4

// checkpointEvery is how many commits pass between background checkpoints.
const checkpointEvery = 32

// writerCacheKiB is the writer's page cache: an import batch of 1,000
// records or a pull page of 500 dirties about 6 MiB of pages, which
// SQLite's default 2 MiB cache wrote into the WAL before the commit (and
// again at it, for pages changed after). Readers keep the default.
const writerCacheKiB = 16 << 10

// DB is a client's local database. Its methods are safe for concurrent
// use; after Close they return ErrClosed.
type DB struct {
	schema *model.Schema
	path   string
	w      *sql.DB // the one writer connection
	r      *sql.DB // the bounded read pool

	watchMu sync.Mutex
	watch   *sql.Conn // held open for PRAGMA data_version
	watchDB *sql.DB
	commits atomic.Int64 // local commits, for DataVersion

	stmts stmts // the writer's hot statements, prepared once

	// The checkpointer copies the WAL back into the database file in the
	// background, so that no user write pays for it.
	ckpt *sql.DB
	kick chan struct{}
	// The indexer writes the search backlog's entries when writes pause;
	// backlogged says the transaction under way added to the backlog.
	indexKick  chan struct{}
	backlogged atomic.Bool
	stop       context.CancelFunc
	stopped    sync.WaitGroup

	now func() time.Time

	// sealer encrypts values at rest; nil in a plaintext database.
	sealer Sealer

	// pullOneByOne sends every pulled record through pullRecord: tests
	// set it to compare the multi-row path with the one it stands in for.
	pullOneByOne bool
	// pushOneByOne sends every push answer through the general path
	// (applyAck), for the same comparison of the simple acks' path.
	pushOneByOne bool

	// claims is this handle's ownership of the ops it hands out.
	claims claims

	writeFault func() error // WithWriteFault

	// commitWatch, when set, hears before each commit whether it will
	// wait for the disk (the connection's synchronous setting is FULL or
	// EXTRA): tests that every commit a send rests on is durable.
	commitWatch func(durable bool)

	// life guards the handles above against Close: every exported method
	// counts itself in with enter and out with leave, and Close waits
	// until none is in flight. A count rather than a read lock, so that a
	// call made inside another one fails with ErrClosed instead of waiting
	// forever behind a Close that waits for the outer call.
	life     sync.Mutex
	idle     sync.Cond // signalled when inFlight drops to 0
	inFlight int
	closed   bool
}

// options are the parts of Open that tests replace.
type options struct {
	migrations []migration
	now        func() time.Time
	sealer     Sealer
	// noIndexer leaves the search backlog to searches and Close: for
	// tests that look at it between writes.
	noIndexer bool
	// writeFault fails write transactions as a full disk does.
	writeFault func() error
	// commitWatch hears whether each commit is durable (DB.commitWatch).
	commitWatch func(durable bool)
}

// WithWriteFault asks fault before each write transaction commits; an
// error it returns rolls the transaction back and comes back as ErrFull,
// as when the disk has no room left. For proofs of what a full disk does
// to a device (the simulation draws it in the middle of a sync).
func WithWriteFault(fault func() error) Option {
	return func(o *options) { o.writeFault = fault }
}

// WithClock makes the database read time from now instead of time.Now:
// for tests of a wall clock that jumps.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Open opens (creating and migrating) the database file at path; an
// encrypted one needs WithSealer.
func Open(ctx context.Context, path string, schema *model.Schema, opts ...Option) (*DB, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	o := options{migrations: migs}
	for _, opt := range opts {
		opt(&o)
	}
	return open(ctx, path, schema, o)
}

func open(ctx context.Context, path string, schema *model.Schema, o options) (_ *DB, err error) {
	if schema == nil {
		return nil, errors.New("open local database: no schema")
	}
	if o.now == nil {
		o.now = time.Now
	}
	db := &DB{schema: schema, path: path, now: o.now, writeFault: o.writeFault, commitWatch: o.commitWatch}
	db.idle.L = &db.life
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if err := sqlitefile.Private(path); err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, err)
	}
	// busy_timeout comes first so that every later pragma already waits for
	// another process instead of failing. synchronous=FULL because a user's
	// write here is, until it is synced, their only copy. The writer never
	// checkpoints: with ~20 pages a write, SQLite's automatic checkpoint
	// would land inside one user write in fifty; the checkpointer does it.
	// The writer, the readers and the watch keep their prepared statements
	// (stmtcache): parsing SQL was a third of a write's work.
	// temp_store=MEMORY keeps the writer's statement journals (what a
	// multi-row insert needs to undo itself alone) in memory: SQLite spills
	// them to a temporary file past 64 KiB, and writing and rereading that
	// file was a seventh of an import's writing. They are no part of
	// crash safety: a crash rolls back to the WAL's last commit either way.
	// The larger page cache (writerCacheKiB) holds a batch's dirty pages
	// until its commit instead of spilling them into the WAL mid-transaction.
	db.w = stmtcache.Open(dsn(path, "_pragma=wal_autocheckpoint(0)", "_pragma=temp_store(MEMORY)",
		fmt.Sprintf("_pragma=cache_size(-%d)", writerCacheKiB), "_txlock=immediate"))
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	if err := db.w.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, mapErr(err))
	}
	if err := migrate(ctx, db.w, o.migrations, o.now()); err != nil {
		return nil, fmt.Errorf("migrate local database: %w", err)
	}
	if err := db.checkSealing(ctx, o.sealer); err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, err)
	}
	if err := db.blindDropPaths(ctx); err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, err)
	}
	db.r = stmtcache.Open(dsn(path, "_pragma=query_only(1)"))
	db.r.SetMaxOpenConns(readers)
	db.r.SetMaxIdleConns(readers)
	db.watchDB = stmtcache.Open(dsn(path, "_pragma=query_only(1)"))
	db.watchDB.SetMaxOpenConns(1)
	if db.watch, err = db.watchDB.Conn(ctx); err != nil {
		return nil, fmt.Errorf("open local database: %w", mapErr(err))
	}
	if db.stmts, err = prepareStmts(ctx, db.w); err != nil {
		return nil, fmt.Errorf("open local database: %w", mapErr(err))
	}
	if db.ckpt, err = sql.Open("sqlite", dsn(path)); err != nil {
		return nil, fmt.Errorf("open local database: %w", mapErr(err))
	}
	db.ckpt.SetMaxOpenConns(1)
	db.kick = make(chan struct{}, 1)
	var runCtx context.Context
	runCtx, db.stop = context.WithCancel(context.Background())
	db.stopped.Add(1)
	go db.checkpointer(runCtx)
	if !o.noIndexer {
		db.indexKick = make(chan struct{}, 1)
		db.stopped.Add(1)
		go db.indexer(runCtx)
	}
	if err := db.recoverSyncing(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// checkpointer runs a PASSIVE checkpoint every checkpointEvery commits and
// once a minute; PASSIVE never waits for, nor blocks, readers and writers.
func (db *DB) checkpointer(ctx context.Context) {
	defer db.stopped.Done()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.kick:
		case <-tick.C:
		}
		// A failed checkpoint is retried at the next kick; the WAL only grows meanwhile.
		_, _ = db.ckpt.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// kickCheckpointer asks the checkpointer for a turn, without waiting;
// a turn already asked for serves.
func (db *DB) kickCheckpointer() { nudge(db.kick) }

// nudge asks a background goroutine that waits on turn (a channel of one)
// for a turn, without waiting; a turn already asked for serves, and a nil
// channel (no such goroutine) asks nothing.
func nudge(turn chan struct{}) {
	if turn == nil {
		return
	}
	select {
	case turn <- struct{}{}:
	default:
	}
}

// DSN is the data source name of a SQLite file opened with the pragmas of
// the local database, for comparisons against the same disk settings.
func DSN(path string) string { return dsn(path) }

// dsn builds the connection string: busy_timeout first, then WAL, foreign
// keys and FULL sync, then secure_delete (a deleted or overwritten row is
// zeroed in the file, so an old plaintext value does not linger in free
// pages), then extra parameters.
func dsn(path string, extra ...string) string {
	q := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)"
	for _, e := range extra {
		q += "&" + e
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q
}

// enter counts a call in, or refuses it with ErrClosed once Close has
// begun; a call that entered must leave.
func (db *DB) enter() error {
	db.life.Lock()
	defer db.life.Unlock()
	if db.closed {
		return ErrClosed
	}
	db.inFlight++
	return nil
}

// leave counts a call out and wakes a Close waiting for it.
func (db *DB) leave() {
	db.life.Lock()
	defer db.life.Unlock()
	if db.inFlight--; db.inFlight == 0 {
		db.idle.Broadcast()
	}
}

// Close waits for the calls in flight, stops the checkpointer, checkpoints
// once more and closes the database. Calls made from then on return
// ErrClosed (Schema and Path still answer); closing again does nothing.
// A call in flight is never cut short: its statements wait at most the
// busy timeout for another process, or until the caller's context ends.
func (db *DB) Close() error {
	db.life.Lock()
	defer db.life.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	for db.inFlight > 0 {
		db.idle.Wait()
	}
	var errs []error
	if db.stop != nil {
		db.stop()
		db.stopped.Wait()
		// What the indexer had not caught up yet goes now, within a bound;
		// whatever is left stays in the backlog for the next open.
		ctx, cancel := context.WithTimeout(context.Background(), closeCatchUp)
		if err := db.catchUpSearch(ctx); err != nil && ctx.Err() == nil {
			errs = append(errs, err)
		}
		cancel()
		_, err := db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		errs = append(errs, err)
		db.stop = nil
	}
	db.releaseClaims()
	db.stmts.close()
	db.stmts = stmts{}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
		db.ckpt = nil
	}
	if db.watch != nil {
		errs = append(errs, db.watch.Close())
	}
	for _, d := range []*sql.DB{db.watchDB, db.r, db.w} {
		if d != nil {
			errs = append(errs, d.Close())
		}
	}
	db.watch, db.watchDB, db.r, db.w = nil, nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close local database: %w", mapErr(err))
	}
	return nil
}

// Schema returns the schema the database was opened with.
func (db *DB) Schema() *model.Schema { return db.schema }

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// SyncWAL returns once every transaction committed so far is on the disk,
// those committed unsynced (WriteImportUnsynced) included: it syncs the
// write-ahead log, which holds every commit a checkpoint has not copied
// into the database file and synced there.
func (db *DB) SyncWAL() error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("sync local database: %w", err)
	}
	defer db.leave()
	err := syncLog(db.path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no log: the checkpoint that removed it synced the file
	}
	if err != nil {
		return fmt.Errorf("sync local database: %w", err)
	}
	return nil
}

// syncLog syncs the log's file (fsync syncs a file, whatever descriptor
// wrote it); a variable so that a test can see it called.
var syncLog = syncFile

// DataVersion changes whenever any connection, in any process, commits.
// PRAGMA data_version on a connection held open sees commits of every other
// connection; the local counter covers this DB's own writes at once.
func (db *DB) DataVersion(ctx context.Context) (int64, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("data version: %w", err)
	}
	defer db.leave()
	db.watchMu.Lock()
	defer db.watchMu.Unlock()
	var v int64
	if err := db.watch.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("data version: %w", mapErr(err))
	}
	return v + db.commits.Load(), nil
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE) and commits; any
// error, or a panic, rolls it back.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.txOn(ctx, db.w, fn)
}

// txUnsynced is tx for a transaction whose commit does not wait for the
// disk: the writer connection commits it at synchronous=NORMAL. In WAL
// mode that keeps it atomic, and a crash of the process loses nothing of
// it; a crash of the machine may lose it until the log is next synced
// (SyncWAL, a checkpoint, or any later commit at FULL, which syncs the
// whole log). The connection is back at FULL before any other write can
// have it; one that cannot be set back is thrown away.
func (db *DB) txUnsynced(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	// Set back first: a pragma interrupted by ctx may have taken effect.
	defer func() {
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=FULL"); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = mapErr(rerr)
			}
		}
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		return mapErr(err)
	}
	return db.txOn(ctx, conn, fn)
}

// beginner is a *sql.DB or a *sql.Conn.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func (db *DB) txOn(ctx context.Context, on beginner, fn func(tx *sql.Tx) error) (err error) {
	tx, err := on.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return mapErr(err)
	}
	if db.writeFault != nil {
		if err = db.writeFault(); err != nil {
			return &storageError{kind: ErrFull, cause: err}
		}
	}
	if db.commitWatch != nil {
		var level int
		if err = tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
			return mapErr(err)
		}
		db.commitWatch(level >= 2) // 2 FULL, 3 EXTRA
	}
	if err = tx.Commit(); err != nil {
		return mapErr(err)
	}
	if db.commits.Add(1)%checkpointEvery == 0 {
		db.kickCheckpointer()
	}
	if db.backlogged.Swap(false) {
		nudge(db.indexKick)
	}
	return nil
}

// storageError is a driver error behind one of our sentinels: its message
// is the sentinel's, its cause stays reachable for logs.
type storageError struct {
	kind  error
	cause error
	// detail, when set, says what failed, after the kind's sentence.
	detail string
}

func (e *storageError) Error() string {
	if e.detail != "" {
		return e.kind.Error() + " (" + e.detail + ")"
	}
	return e.kind.Error()
}
func (e *storageError) Is(target error) bool { return target == e.kind }
func (e *storageError) Unwrap() error        { return e.cause }

// mapErr turns a driver error into one of our sentinels; other errors pass
// through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *storageError
	if errors.As(err, &se) {
		return err
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	kind, detail := ErrStorage, ""
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_ERROR:
		// A table or column the layout has is gone: the file was changed
		// by something other than casefile, which only a rebuild mends.
		// Any other error keeps SQLite's words, as the person's only clue.
		msg := e.Error()
		for _, missing := range []string{"no such table: ", "no such column: ", "malformed database schema"} {
			if i := strings.Index(msg, missing); i >= 0 {
				kind, detail = ErrCorrupt, strings.TrimSpace(msg[i:])
				if j := strings.LastIndex(detail, " ("); j > 0 && strings.HasSuffix(detail, ")") {
					detail = detail[:j] // SQLite's code number
				}
				break
			}
		}
		if kind == ErrStorage {
			detail = msg
		}
	case sqlite3.SQLITE_CONSTRAINT:
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			kind = ErrExists
		}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		kind = ErrBusy
	case sqlite3.SQLITE_FULL:
		kind = ErrFull
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		kind = ErrCorrupt
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH:
		kind = ErrCannotOpen
	}
	return &storageError{kind: kind, cause: err, detail: detail}
}

// nanos stores a time as unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos reads a time stored by nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
