// Package sqlstore is the SQL both server stores share: the queries behind
// store.Store, written once with $N parameters that SQLite and PostgreSQL
// both accept, plus the few places where the engines differ, passed in as a
// Dialect. sqlitestore and pgstore open the databases and supply the
// dialect and the migrations.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"casefile/server/store"
)

// Dialect is what differs between the engines.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// LockHead makes every write transaction begin by reading the head
	// row FOR UPDATE, which takes the change-sequence lock and fills the
	// transaction's head cache in one statement; false when the engine
	// already serialises writers.
	LockHead bool
	// ReadTx are the options of read snapshots.
	ReadTx *sql.TxOptions
	// IsDuplicate reports a unique-constraint violation.
	IsDuplicate func(error) bool
	// IsBusy reports a lock wait or statement that timed out (mapped to
	// store.ErrBusy); nil when the engine has no such timeouts.
	IsBusy func(error) bool
	// IsUnreachable reports a failure to connect (mapped to
	// store.ErrUnavailable); nil when the engine is in-process.
	IsUnreachable func(error) bool
	// ConnLost reports an error by which a pooled connection proved
	// dead (closed under it by a database that restarted or a network
	// that reset it) rather than an answer of the database's; nil when
	// the engine is in-process. A transaction that meets one as it
	// begins, before the store has handed its caller anything of the
	// database's, begins again, once, on another connection (see
	// Read and writeOnConn).
	ConnLost func(error) bool
	// NotifyChannel, when set, is the PostgreSQL channel a write
	// transaction's hints are published on inside it (pg_notify, as
	// JSON, in the statement that sends its rows), delivered to every
	// process at commit; "" delivers them in-process after commit. It
	// needs Unnest.
	NotifyChannel string
	// Unnest says the engine inserts rows from one array per column
	// (PostgreSQL's unnest), so that a write transaction's pending rows,
	// head and hints reach it in one statement (see txn.sendOne).
	Unnest bool
	// Commit, when set, sends a write transaction's last statement (query
	// and args; "" for none) and its COMMIT on conn in one round trip (a
	// pipeline), and write transactions run on a connection of their own
	// with BEGIN, COMMIT and ROLLBACK as statements (see writeOnConn). It
	// needs Unnest. Nil: database/sql's transactions. An error that
	// wraps ErrCommitNotSent says the pipeline never went out.
	Commit func(ctx context.Context, conn *sql.Conn, query string, args []any) error
	// Begin, when set with Commit and LockHead, sends BEGIN, the
	// statement that takes the head's lock and a write transaction's
	// first query, if it is one the transaction can send ahead (see
	// writeOnConn), on conn in one round trip, as Commit sends the last
	// statement with COMMIT. Nil: BEGIN and the lock go before the
	// first statement, a round trip each.
	Begin func(ctx context.Context, conn *sql.Conn, lead Lead) error
	// NoIndex, put before a column in a condition, keeps the planner from
	// using an index on it ("+" on SQLite); "" when the planner needs no
	// such help (see Changes).
	NoIndex string
	// Streams says a query's rows come to the process as the engine reads
	// them, so that closing a query early ends its reading (SQLite, in
	// the process): a page with a byte budget read in sequence order then
	// stops where the budget does, unmeasured (see changeRange).
	Streams bool
	// ReadLanes is how many batches of small reads a server runs at once
	// (see store.Laned): the cores an embedded engine's reads use, the
	// round trips a networked one overlaps.
	ReadLanes int
}

// Lead is what Dialect.Begin sends after BEGIN.
type Lead struct {
	// Lock takes the head's lock; its one row is scanned into LockDest.
	Lock     string
	LockDest []any
	// Query, when not "", follows with Args; Row is called with each of
	// its rows' Scan.
	Query string
	Args  []any
	Row   func(scan func(dest ...any) error) error
}

// DB implements store.Store over a writer and a reader connection pool
// (the same pool for engines with concurrent writers).
type DB struct {
	w, r     *sql.DB
	d        Dialect
	describe string

	mu        sync.Mutex
	listeners map[int]func(store.Hint)
	nextID    int

	timeWrites atomic.Pointer[func(store.WriteTiming)] // see TimeWrites
}

// TimeWrites has fn called with the timing of every committed write
// transaction (store.WriteTimer), replacing any fn given before.
func (db *DB) TimeWrites(fn func(store.WriteTiming)) { db.timeWrites.Store(&fn) }

// timed reports a committed write transaction that was asked for at start
// and began, holding the write lock, at began.
func (db *DB) timed(start, began time.Time) {
	if fn := db.timeWrites.Load(); fn != nil {
		(*fn)(store.WriteTiming{Wait: began.Sub(start), Held: time.Since(began)})
	}
}

// New returns a store over open pools; it owns and closes them. A dialect
// that publishes hints in the transaction or commits with its last
// statement sends that statement whole, so it needs Unnest; New panics
// otherwise, as the dialect is the program's, not its input.
func New(writer, reader *sql.DB, d Dialect, describe string) *DB {
	if (d.NotifyChannel != "" || d.Commit != nil) && !d.Unnest {
		panic("sqlstore: Dialect.NotifyChannel and Dialect.Commit need Dialect.Unnest")
	}
	return &DB{w: writer, r: reader, d: d, describe: describe, listeners: map[int]func(store.Hint){}}
}

// Describe names the store for people.
func (db *DB) Describe() string { return db.describe }

// ReadLanes says how many read transactions of batched small reads suit
// the engine at once.
func (db *DB) ReadLanes() int { return db.d.ReadLanes }

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Read runs fn in a read-only snapshot, begun at fn's first statement
// (see lazySnapshot and txn.AccessGen). A snapshot whose connection dies
// once begun (the database restarted, the network reset it) fails
// with store.ErrUnavailable: fn has read part of it, so it does not go
// again here, but the request may be sent again as it was.
func (db *DB) Read(ctx context.Context, fn func(store.Reader) error) error {
	l := &lazySnapshot{ctx: ctx, db: db.r, opts: db.d.ReadTx, d: &db.d}
	defer l.end()
	err := fn(&txn{q: l, d: &db.d})
	if err != nil && !errors.Is(err, store.ErrUnavailable) && db.d.connLost(ctx, err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// Write runs fn in a write transaction holding the change-sequence lock,
// commits if fn succeeds and then delivers its hints.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) (err error) {
	if db.d.Commit != nil {
		return db.writeOnConn(ctx, fn)
	}
	start := time.Now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	t := &txn{q: direct{tx}, d: &db.d, began: time.Now()}
	hints, err := db.run(ctx, t, fn, db.d.LockHead)
	if err != nil {
		return err
	}
	if err := t.send(ctx, sendRecords|sendRows|sendHead, hints); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.mapErr(err))
	}
	db.timed(start, t.began)
	db.deliver(hints)
	return nil
}

// run runs fn in the write transaction t, first taking the head's lock
// when lock is set, and returns the hints to publish.
func (db *DB) run(ctx context.Context, t *txn, fn func(store.Tx) error, lock bool) ([]store.Hint, error) {
	if lock {
		if _, err := t.readHead(ctx, " FOR UPDATE"); err != nil {
			return nil, fmt.Errorf("lock head: %w", err)
		}
		t.began = time.Now()
	}
	if err := fn(t); err != nil {
		return nil, err
	}
	if t.lost != nil {
		return nil, t.lost // fn went on after the transaction was lost
	}
	return coalesce(t.hints), nil
}

// deliver publishes a committed transaction's hints in this process,
// unless the dialect published them in the transaction.
func (db *DB) deliver(hints []store.Hint) {
	if db.d.NotifyChannel != "" {
		return
	}
	for _, h := range hints {
		db.Publish(h)
	}
}

// rollbackTimeout bounds the rollback of a write transaction that failed:
// a live connection answers at once.
const rollbackTimeout = 5 * time.Second

// writeOnConn is Write for a dialect with Commit: the transaction's last
// statement (its rows, head and hints, see sendOne) travels with its
// COMMIT, so the head's lock, which other replicas' writes wait for, is
// held a round trip less (docs/benchmarks.md, fourteenth round).
func (db *DB) writeOnConn(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin write: %w", db.mapErr(err))
	}
	defer func() { conn.Close() }() // the one the transaction ended on
	t := &txn{q: direct{conn}, d: &db.d}
	lock := db.d.LockHead
	if lock && db.d.Begin != nil {
		// BEGIN and the lock wait for the transaction's first statement
		// and go with it when it is a query sent ahead (a push group's
		// preload, see txn.collect), otherwise just before it: with
		// PostgreSQL, a write then takes the lock with its first round
		// trip and holds it for one more, the rows with COMMIT. Other
		// replicas' writes wait for that lock.
		lock = false
		t.q = beginFirst{t: t}
		t.begin = func(ctx context.Context, query string, args []any, row func(scanner) error) error {
			h := &headCache{}
			lead := Lead{Lock: lockQuery, LockDest: []any{&h.seq, &h.auditN, &h.auditHash, &h.compactedThrough, &h.ledgerThrough, &t.lockGen},
				Query: query, Args: args}
			handed := false // a row of the first query went to fn
			if row != nil {
				lead.Row = func(scan func(dest ...any) error) error {
					handed = true
					return row(scanFunc(scan))
				}
			}
			err := db.d.Begin(ctx, conn, lead)
			if err != nil && !handed && db.d.connLost(ctx, err) {
				// A pooled connection found dead (the database
				// restarted, the network reset it). Nothing of the
				// transaction can have committed: the pipeline holds no
				// COMMIT, and a session that ends rolls back its
				// transaction. fn has been handed nothing, so the
				// transaction begins again, once, on another
				// connection, as if the first had never been taken.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				conn.Close()
				fresh, cerr := db.w.Conn(ctx)
				if cerr != nil {
					t.q = direct{conn} // closed: what follows fails, as the write did
					return fmt.Errorf("begin write: %w (after: %w)", db.mapErr(cerr), err)
				}
				conn = fresh
				err = db.d.Begin(ctx, conn, lead)
			}
			t.q = direct{conn}
			if err != nil {
				return fmt.Errorf("begin write: %w", t.mapErr(err))
			}
			t.began = time.Now()
			t.head, t.lockGenRead = h, true
			return nil
		}
	} else {
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			return fmt.Errorf("begin write: %w", err)
		}
		t.began = time.Now() // or once run has taken the lock
	}
	ended := false
	defer func() {
		if ended {
			return
		}
		// A connection still in a transaction must not go back to the pool.
		// The rollback is bounded: on a connection that died without a
		// word it would wait as long as the write did.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if _, err := conn.ExecContext(rctx, "ROLLBACK"); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	hints, err := db.run(ctx, t, fn, lock)
	if err != nil {
		return db.notCommitted(ctx, err)
	}
	if err := t.begun(ctx); err != nil { // fn sent nothing
		return db.notCommitted(ctx, err)
	}
	query, args, err := t.lastStatement(hints)
	if err != nil {
		return err
	}
	// Once the COMMIT is sent the transaction may have committed,
	// whatever the error: only one that never went out can be
	// ErrNotCommitted.
	if err := db.d.Commit(ctx, conn, query, args); err != nil {
		if errors.Is(err, ErrCommitNotSent) {
			return db.notCommitted(ctx, fmt.Errorf("commit: %w", err))
		}
		return fmt.Errorf("commit: %w", db.mapErr(err))
	}
	ended = true
	db.timed(start, t.began)
	db.deliver(hints)
	return nil
}

// ErrCommitNotSent is wrapped by a Dialect.Commit error met before any
// of its pipeline was sent: the statements' preparation, which goes
// first, failed, or nothing could be written.
var ErrCommitNotSent = errors.New("the commit was not sent")

// notCommitted marks err, met by a write transaction before its COMMIT
// was sent, as store.ErrNotCommitted when it says the connection died
// while ctx still stands: the session's end rolled the transaction back.
// The pool then checks its other connections before their next use.
func (db *DB) notCommitted(ctx context.Context, err error) error {
	if db.d.connLost(ctx, err) {
		return fmt.Errorf("%w: %w", store.ErrNotCommitted, err)
	}
	return err
}

// Savepoint runs fn inside a savepoint of the write transaction; see
// store.Tx.
func (t *txn) Savepoint(ctx context.Context, fn func(store.Tx) error) error {
	if t.lost != nil {
		return t.lost
	}
	t.depth++
	defer func() { t.depth-- }()
	name := "sp" + strconv.Itoa(t.depth)
	if _, err := t.q.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return t.lose(fmt.Errorf("savepoint: %w", err))
	}
	queued, head, rows := len(t.hints), t.snapshotHead(), t.pending.save()
	if err := fn(t); err != nil {
		t.hints, t.head = t.hints[:queued], head
		t.pending.restore(rows)
		// Rows and memberships read inside may be undone too.
		clear(t.pending.records)
		clear(t.pending.members)
		// Rolling back to a savepoint keeps it; release it so a batch's
		// savepoints do not pile up.
		if _, rerr := t.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return t.lose(fmt.Errorf("roll back to savepoint: %w (after: %w)", rerr, err))
		}
		if _, rerr := t.q.ExecContext(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return t.lose(fmt.Errorf("release savepoint: %w (after: %w)", rerr, err))
		}
		return err
	}
	if t.lost != nil {
		return t.lost
	}
	if _, err := t.q.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return t.lose(fmt.Errorf("release savepoint: %w", err))
	}
	return nil
}

// lose marks the transaction as unable to commit and returns why.
func (t *txn) lose(err error) error {
	t.lost = fmt.Errorf("%w: %w", store.ErrTxLost, err)
	return t.lost
}

// coalesce keeps one hint per matter and user, the one with the highest
// sequence, and orders them by sequence: a poke says "news up to N", so
// the earlier ones of a transaction add nothing. A hint that merges the
// changes of two clients names neither (every stream hears of it).
func coalesce(hints []store.Hint) []store.Hint {
	if len(hints) < 2 {
		return hints
	}
	type key struct{ matter, user string }
	at := make(map[key]int, len(hints))
	out := make([]store.Hint, 0, len(hints))
	for _, h := range hints {
		k := key{h.MatterID, h.User}
		if i, ok := at[k]; ok {
			out[i].Seq = max(out[i].Seq, h.Seq)
			if out[i].Origin != h.Origin {
				out[i].Origin = ""
			}
			continue
		}
		at[k] = len(out)
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b store.Hint) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// connLost says whether err, met by a transaction as it began while
// ctx still stands, is a dead connection another may get past: a
// transaction whose context has ended must not begin again.
func (d *Dialect) connLost(ctx context.Context, err error) bool {
	return d.ConnLost != nil && ctx.Err() == nil && d.ConnLost(err)
}

func (db *DB) mapErr(err error) error {
	return mapErr(&db.d, err)
}

// mapErr maps the driver's errors to the store's sentinels.
func mapErr(d *Dialect, err error) error {
	switch {
	case d.IsDuplicate != nil && d.IsDuplicate(err):
		return fmt.Errorf("%w: %v", store.ErrDuplicate, err)
	case d.IsBusy != nil && d.IsBusy(err):
		return fmt.Errorf("%w: %v", store.ErrBusy, err)
	case d.IsUnreachable != nil && d.IsUnreachable(err):
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

// Listen calls fn with every hint published until ctx ends.
func (db *DB) Listen(ctx context.Context, fn func(store.Hint)) error {
	db.mu.Lock()
	id := db.nextID
	db.nextID++
	db.listeners[id] = fn
	db.mu.Unlock()
	<-ctx.Done()
	db.mu.Lock()
	delete(db.listeners, id)
	db.mu.Unlock()
	return nil
}

// Publish hands a hint to every listener of this process.
func (db *DB) Publish(h store.Hint) {
	db.mu.Lock()
	fns := make([]func(store.Hint), 0, len(db.listeners))
	for _, fn := range db.listeners {
		fns = append(fns, fn)
	}
	db.mu.Unlock()
	for _, fn := range fns {
		fn(h)
	}
}

// appliedMigrations returns the versions schema_migrations records.
func appliedMigrations(ctx context.Context, tx *sql.Tx) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		have[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	return have, nil
}

// Unapplied returns the numbered *.sql files of fsys that the database
// has not applied, without changing it: for a store opened to read only,
// whose layout must already be this build's.
func Unapplied(ctx context.Context, db *sql.DB, fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	have, err := appliedMigrations(ctx, tx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range names {
		if v, err := migrationVersion(name); err != nil || !have[v] {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// Migrate runs the numbered *.sql files of fsys not yet applied, in one
// transaction. lock, when set, is run first (PostgreSQL: an advisory lock
// so replicas starting together migrate once).
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, lock string) (err error) {
	// A store already at this build's layout needs no DDL, so a role
	// without CREATE on its schema opens it: a least-privilege server's,
	// an auditor's. (CREATE TABLE IF NOT EXISTS needs the privilege even
	// when the table is there.) Anything else, a first start included,
	// migrates under the lock.
	if missing, err := Unapplied(ctx, db, fsys); err == nil && len(missing) == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := MigrateTx(ctx, tx, fsys, lock); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// MigrateTx runs the numbered *.sql files of fsys not yet applied inside
// tx, which its caller commits or rolls back: a store move creates the
// tables in the transaction that fills them, so a failed move leaves
// nothing behind.
func MigrateTx(ctx context.Context, tx *sql.Tx, fsys fs.FS, lock string) error {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	slices.Sort(names)
	if lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	have, err := appliedMigrations(ctx, tx)
	if err != nil {
		return err
	}
	for _, name := range names {
		v, err := migrationVersion(name)
		if err != nil {
			return err
		}
		// Every migration not yet applied runs, not only those above the
		// highest: numbers are reserved ahead, so 005 may arrive after a
		// database already has 006.
		if have[v] {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
	}
	return nil
}

// Versions returns the numbers of the migrations in fsys, in order: the
// layout a store of this build has once they are all applied.
func Versions(fsys fs.FS) ([]int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []int64
	for _, name := range names {
		v, err := migrationVersion(name)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// migrationVersion is the number a migration's file name starts with.
func migrationVersion(name string) (int64, error) {
	num, _, _ := strings.Cut(name, "_")
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("migration %s: name must start with its number", name)
	}
	return v, nil
}
