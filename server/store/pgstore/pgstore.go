// Package pgstore is the server's PostgreSQL store, for a firm-sized
// database shared by several server replicas. Writers serialise on the head
// row's lock, so change sequences commit in order; every commit sends a
// NOTIFY hint that each replica's listener turns into pokes.
package pgstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"casefile/internal/pghealth"
	"casefile/server/store"
	"casefile/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the NOTIFY channel of the public schema; stores in another
// schema use Channel + "_" + schema, so separate schemas never mix hints.
const Channel = "casefile_changes"

// ChannelOf is the NOTIFY channel of a schema's store: Channel, with
// "_" and the schema's name for a schema other than public. PostgreSQL
// takes channel names of up to 63 bytes (a schema's name may be as long),
// so a longer one ends in a digest of the schema's name instead; every
// replica derives the same.
func ChannelOf(schema string) string {
	if schema == "public" {
		return Channel
	}
	if c := Channel + "_" + schema; len(c) <= maxChannel {
		return c
	}
	sum := sha256.Sum256([]byte(schema))
	return Channel + "_" + hex.EncodeToString(sum[:12])
}

// maxChannel is the longest channel name pg_notify takes, in bytes.
const maxChannel = 63

// CurrentSchema is the schema q's connections work in: the first of the
// search_path that exists. A search_path naming none that does is
// refused, naming it, rather than left to fail as "no schema has been
// selected to create in".
func CurrentSchema(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, cfg *pgx.ConnConfig) (string, error) {
	var current sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	if !current.Valid {
		return "", fmt.Errorf("no schema the database URL's search_path names exists in database %s (search_path %s): create it (CREATE SCHEMA name) or correct the URL",
			cfg.Database, searchPath(cfg))
	}
	return current.String, nil
}

// searchPath is the search_path a connection configuration sets, for
// messages.
func searchPath(cfg *pgx.ConnConfig) string {
	if p, ok := cfg.RuntimeParams["search_path"]; ok {
		return strconv.Quote(p)
	}
	return "not set"
}

// migrationLock is the advisory lock key replicas take to migrate once.
const migrationLock = 0x63617365 // "case"

// timings bound the store's waits on PostgreSQL, so that a stuck
// session or a dead link costs a retry, not a replica that hangs.
type timings struct {
	// lockWait is how long a write transaction waits for the head's
	// lock (its lock_timeout): a write that waits longer gives up with
	// store.ErrBusy, having done nothing, and its client tries again. A
	// write holds the lock for a round trip or two, so only a session
	// stuck with the lock (a person's open transaction, a replica whose
	// link died mid-commit) makes anyone wait this long. The URL's
	// lock_timeout, when set, replaces it.
	lockWait string
	// idleInTx is the sessions' idle_in_transaction_session_timeout: a
	// transaction of ours whose replica stops speaking (killed, or its
	// link gone silent) is ended by PostgreSQL after this long, and the
	// head's lock it held is freed for the other replicas; otherwise
	// PostgreSQL waits for TCP to notice, which takes hours. Ours never
	// pause between statements for more than a moment. The URL's
	// idle_in_transaction_session_timeout, when set, replaces it.
	idleInTx string
	// listenIdle is how long the change listener waits for a
	// notification before it checks that its connection still answers
	// (a silent link delivers nothing and reports nothing).
	listenIdle time.Duration
	// ping is how long such a check may take, the listener's and the
	// pool's (pghealth.Pool.ShouldPing).
	ping time.Duration
}

// defaultTimings are the store's bounds outside tests.
var defaultTimings = timings{lockWait: "10s", idleInTx: "30s", listenIdle: 30 * time.Second, ping: 5 * time.Second}

// Store is a PostgreSQL store with its change listener.
type Store struct {
	*sqlstore.DB
	cfg     *pgx.ConnConfig
	channel string
	tm      timings
	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Option adjusts a store as it opens.
type Option func(*Store)

// WithLogger makes the store log (its change listener's losses and
// reconnections) through l, with the key component=pgstore, instead of
// slog's default logger: a server's log then holds them in its format
// and at its level.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l.With("component", "pgstore") }
}

// Open connects to url (a postgres:// URL; search_path may be set in it),
// migrates the schema and starts listening for other replicas' changes.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", errors.New(strings.TrimPrefix(err.Error(), "cannot parse `"+url+"`: ")))
	}
	if err := pghealth.GuardDial(cfg); err != nil {
		return nil, err
	}
	return open(ctx, cfg, defaultTimings, opts...)
}

// Exists reports whether the database at url (in its search_path) holds a
// Casefile store, without creating one: for commands that only read or
// change what a server holds, a URL that names another database is a
// mistake to report, not a database to fill with tables.
func Exists(ctx context.Context, url string) (bool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("database url: %w", errors.New(strings.TrimPrefix(err.Error(), "cannot parse `"+url+"`: ")))
	}
	if err := pghealth.GuardDial(cfg); err != nil {
		return false, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var found bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('head') IS NOT NULL AND to_regclass('records') IS NOT NULL`).Scan(&found); err != nil {
		return false, fmt.Errorf("look for a casefile store: %w", err)
	}
	return found, nil
}

// MigrateTx brings the store's tables in tx's search_path to this
// build's layout inside tx, which the caller commits or rolls back (a
// move fills them in the same transaction).
func MigrateTx(ctx context.Context, tx *sql.Tx) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return sqlstore.MigrateTx(ctx, tx, sub, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLock))
}

// Versions returns the migration numbers of this build's layout.
func Versions() ([]int64, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sqlstore.Versions(sub)
}

// open is Open with the connections' configuration parsed.
func open(ctx context.Context, cfg *pgx.ConnConfig, tm timings, opts ...Option) (*Store, error) {
	cfg = cfg.Copy()
	if v, ok := cfg.RuntimeParams["lock_timeout"]; ok {
		tm.lockWait = v
	}
	if _, ok := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = tm.idleInTx
	}
	// pgx's database/sql adapter runs the SQL sqlstore shares with SQLite;
	// the change listener keeps a pgx connection of its own (see listen).
	conns := &pghealth.Pool{Ping: tm.ping}
	db := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(conns.ShouldPing))
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	schema, err := CurrentSchema(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := sqlstore.Migrate(ctx, db, sub, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLock)); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// A lock wait PostgreSQL would refuse stops the start, not every write.
	if _, err := db.ExecContext(ctx, `SELECT set_config('lock_timeout', $1, true)`, tm.lockWait); err != nil {
		db.Close()
		return nil, fmt.Errorf("database url: lock_timeout %q: %w", tm.lockWait, err)
	}
	channel := ChannelOf(schema)
	s := &Store{cfg: cfg, channel: channel, tm: tm, log: slog.With("component", "pgstore")}
	for _, o := range opts {
		o(s)
	}
	d := sqlstore.Dialect{
		Name:          "postgres",
		LockHead:      true,
		ReadTx:        &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		IsDuplicate:   isDuplicate,
		IsBusy:        isBusy,
		IsUnreachable: isUnreachable,
		ConnLost:      conns.Lost,
		NotifyChannel: channel,
		Unnest:        true,
		Commit:        commitWith,
		Begin:         s.beginWith,
		// Two batches at once, as with SQLite: with eight, two replicas
		// under 1,000 pushes a second read batches of one or two jobs
		// each, a round trip or three apiece, and the push p50 was
		// 122-229 ms against 41-77 with two (docs/benchmarks.md).
		ReadLanes: 2,
	}
	s.DB = sqlstore.New(db, db, d, fmt.Sprintf("postgres %s@%s/%s (schema %s)", cfg.User, cfg.Host, cfg.Database, schema))
	// Listen before returning, so no change committed after Open is missed.
	conn, err := s.listen(ctx)
	if err != nil {
		s.DB.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.listenLoop(lctx, conn)
	return s, nil
}

// Close stops the listener and closes the pool.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.DB.Close()
}

// listen connects the change listener: every replica's write transactions
// publish their hints on the store's channel (sqlstore.Dialect's
// NotifyChannel), in the statement that sends their rows.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("connect listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// listenLoop turns notifications into hints until ctx ends, reconnecting
// with backoff. After a reconnect it publishes the head as a hint for
// everyone, since hints sent meanwhile were lost.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn) {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := s.nextNotification(ctx, conn)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("change listener lost its connection", "err", err)
				break
			}
			if n == nil {
				continue
			}
			var h store.Hint
			if err := json.Unmarshal([]byte(n.Payload), &h); err != nil {
				s.log.Warn("ignored a malformed change hint", "err", err)
				continue
			}
			s.Publish(h)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		c, err := s.listen(ctx)
		if err != nil {
			continue
		}
		conn, backoff = c, 100*time.Millisecond
		// The head is read on the new connection, which is known to
		// answer: the pool's may have died with the old one.
		var head int64
		hctx, cancel := context.WithTimeout(ctx, s.tm.ping)
		err = conn.QueryRow(hctx, `SELECT seq FROM head WHERE id = 1`).Scan(&head)
		cancel()
		if err != nil {
			// Without the head no one would hear of what the lost
			// hints announced: listen again, until the head is read.
			s.log.Warn("change listener could not read the head after reconnecting", "err", err)
			conn.Close(context.Background())
			conn = nil
			continue
		}
		s.Publish(store.Hint{Seq: head})
	}
}

// nextNotification waits for conn's next notification; after listenIdle
// without one it checks that the connection still answers and returns
// nil. A link gone silent (a firewall or NAT that forgot the flow, a
// database host gone) reports nothing, and the listener would otherwise
// wait on it for good while other replicas' hints are lost.
func (s *Store) nextNotification(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	wctx, cancel := context.WithTimeout(ctx, s.tm.listenIdle)
	n, err := conn.WaitForNotification(wctx)
	cancel()
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return n, err
	}
	pctx, cancel := context.WithTimeout(ctx, s.tm.ping)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		return nil, fmt.Errorf("no answer within %v: %w", s.tm.ping, err)
	}
	return nil, nil
}

// commitWith sends a write transaction's last statement and its COMMIT
// in one pipeline (sqlstore.Dialect.Commit). A statement that fails skips
// the COMMIT; the transaction is then rolled back by the caller.
func commitWith(ctx context.Context, conn *sql.Conn, query string, args []any) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a pgx connection was expected, not %T", dc)
		}
		b := &pgx.Batch{}
		if query != "" {
			b.Queue(query, args...)
		}
		b.Queue("COMMIT")
		br := c.Conn().SendBatch(ctx, b)
		var err error
		if query != "" {
			_, err = br.Exec()
		}
		if err == nil {
			var tag pgconn.CommandTag
			if tag, err = br.Exec(); err == nil && tag.String() != "COMMIT" {
				err = fmt.Errorf("the transaction ended with %q, not COMMIT", tag.String())
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		// pgx prepares a pipeline's new statements in a round trip of
		// their own before it sends the pipeline: a failure there, or
		// one before anything was written, sent no COMMIT.
		var pre pgx.ErrPreprocessingBatch
		if err != nil && (errors.As(err, &pre) || pgconn.SafeToRetry(err)) {
			return fmt.Errorf("%w: %w", sqlstore.ErrCommitNotSent, err)
		}
		return err
	})
}

// beginWith sends BEGIN, the statement that takes the head's lock and
// the transaction's first query in one pipeline (sqlstore.Dialect.Begin).
// If a statement fails, the transaction it began is rolled back by the
// caller.
func (s *Store) beginWith(ctx context.Context, conn *sql.Conn, lead sqlstore.Lead) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a pgx connection was expected, not %T", dc)
		}
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		// The wait for the lock is bounded in this transaction only:
		// other statements (a migration's advisory lock) wait as long as
		// they must.
		b.Queue(`SELECT set_config('lock_timeout', $1, true)`, s.tm.lockWait)
		b.Queue(lead.Lock)
		if lead.Query != "" {
			b.Queue(lead.Query, lead.Args...)
		}
		br := c.Conn().SendBatch(ctx, b)
		_, err := br.Exec()
		if err == nil {
			_, err = br.Exec()
		}
		if err == nil {
			err = br.QueryRow().Scan(lead.LockDest...)
		}
		if err == nil && lead.Query != "" {
			err = eachRow(br, lead.Row)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// eachRow calls row with each row of the batch's next query.
func eachRow(br pgx.BatchResults, row func(scan func(dest ...any) error) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func isDuplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Classify names a PostgreSQL failure the way the store's own are named,
// for callers that reach the database without the store (the file store's
// chunks): a lock wait past lock_timeout, or a statement past a
// statement_timeout, is store.ErrBusy; a connection that could not be made
// is store.ErrUnavailable; any other error comes back as it is.
func Classify(err error) error {
	switch {
	case err == nil:
		return nil
	case isBusy(err):
		return fmt.Errorf("%w: %w", store.ErrBusy, err)
	case isUnreachable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// isUnreachable reports a connection that could not be made.
func isUnreachable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// isBusy reports a lock wait past lock_timeout (55P03) or a statement
// past a statement_timeout the URL set (57014).
func isBusy(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "57014")
}
