// Package stmtcache opens SQLite databases (modernc.org/sqlite) whose
// connections keep their prepared statements for reuse, by query text.
//
// database/sql prepares, runs and finalizes a statement on every
// ExecContext and QueryContext that is not a prepared *sql.Stmt; for the
// short statements of a sync client and server, parsing and planning the
// SQL is a third of the work. Here each connection keeps the statements
// it prepared and hands one back when the same text comes again and the
// statement is idle; SQLite re-prepares a kept statement by itself when
// the schema changes. Only single statements are kept (a script runs as
// before), at most maxStmts per connection.
package stmtcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// maxStmts bounds the statements one connection keeps: this program's SQL
// is a fixed set of texts, well under it; texts built at run time (IN
// lists of varying length) beyond it are prepared and finalized as usual.
const maxStmts = 512

// Open opens dsn (as modernc.org/sqlite takes it) with statement reuse.
// The returned DB is used like any other.
func Open(dsn string) *sql.DB {
	return sql.OpenDB(connector{dsn: dsn})
}

type connector struct{ dsn string }

// sqliteDriver is modernc.org/sqlite's registered driver, not a new
// sqlite.Driver: functions registered with sqlite.RegisterFunction and its
// kin live on that one, and connections opened here must have them.
var sqliteDriver = func() driver.Driver {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic(err) // the driver is registered by the import above
	}
	return db.Driver()
}()

func (c connector) Connect(context.Context) (driver.Conn, error) {
	base, err := sqliteDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &conn{base: base, stmts: map[string]*stmt{}}, nil
}

func (c connector) Driver() driver.Driver { return drv{} }

// drv lets sql.DB.Driver answer; connections come from the connector.
type drv struct{}

func (drv) Open(dsn string) (driver.Conn, error) {
	return connector{dsn: dsn}.Connect(context.Background())
}

// conn is one SQLite connection and the statements it keeps. database/sql
// uses a connection from one goroutine at a time; the mutex is for Close.
//
// It deliberately does not implement driver.ExecerContext or
// driver.QueryerContext, so that database/sql prepares through
// PrepareContext, which is where statements are reused.
type conn struct {
	base driver.Conn

	mu    sync.Mutex
	stmts map[string]*stmt
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.mu.Lock()
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	ds, err := c.base.(driver.ConnPrepareContext).PrepareContext(ctx, positional(query))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, taken := c.stmts[query]; taken || len(c.stmts) >= maxStmts || !single(query) {
		// In use by an open query of the same text, or not to be kept:
		// this one is finalized when closed.
		return ds, nil
	}
	s := &stmt{base: ds, busy: true, conn: c}
	c.stmts[query] = s
	return s, nil
}

// positional returns query with its numbered parameters ($1, $2, …, the
// form PostgreSQL needs too) made plain "?" when each number appears once
// and in order, which binds the same arguments; otherwise query as it is.
// SQLite keeps numbered parameters in a list it searches by number, and
// the driver asks for each parameter's name when it binds, so a statement
// of n numbered parameters costs n²/2 steps on every run: a multi-row
// insert of 64 rows of 8 columns, 130,000. Quoted text, quoted names and
// comments are left alone ('$.a' is a JSON path, not a parameter).
func positional(query string) string {
	var b strings.Builder
	next := 1
	for i := 0; i < len(query); {
		switch c := query[i]; {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := byte(c)
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(query) {
				if query[j] == end {
					if end != ']' && j+1 < len(query) && query[j+1] == end {
						j += 2 // a doubled quote inside
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(query))
			b.WriteString(query[i:j])
			i = j
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				return query
			}
			b.WriteString(query[i : i+2+j+2])
			i += 2 + j + 2
		case c == '$' && i+1 < len(query) && isDigit(query[i+1]) && (i == 0 || !isNamePart(query[i-1])):
			j := i + 1
			n := 0
			for j < len(query) && isDigit(query[j]) {
				n = n*10 + int(query[j]-'0')
				j++
				if n > 1<<20 {
					return query
				}
			}
			if n != next {
				return query
			}
			next++
			b.WriteByte('?')
			i = j
		case c == '?' || c == ':' || c == '@' || c == '$':
			if c == ':' && i+1 < len(query) && query[i+1] == ':' {
				b.WriteString("::") // a PostgreSQL cast, not a parameter
				i += 2
				continue
			}
			if c != '?' && (i+1 >= len(query) || !isNameStart(query[i+1]) || i > 0 && isNamePart(query[i-1])) {
				b.WriteByte(c)
				i++
				continue
			}
			return query // other parameters: leave the numbering to SQLite
		default:
			b.WriteByte(c)
			i++
		}
	}
	if next == 1 {
		return query
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isNamePart(c byte) bool { return isNameStart(c) || isDigit(c) || c == '$' }

// single reports whether query holds one statement: a script's later
// statements are prepared as it runs, so there is nothing to keep.
func single(query string) bool {
	q := strings.TrimRight(strings.TrimSpace(query), ";")
	return !strings.Contains(q, ";")
}

// Close finalizes every kept statement, then closes the connection.
func (c *conn) Close() error {
	c.mu.Lock()
	stmts := c.stmts
	c.stmts = map[string]*stmt{}
	c.mu.Unlock()
	var errs []error
	for _, s := range stmts {
		errs = append(errs, s.base.Close())
	}
	errs = append(errs, c.base.Close())
	return errors.Join(errs...)
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.base.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// stmt is a kept statement; Close returns it to its connection.
type stmt struct {
	base driver.Stmt
	busy bool // guarded by the connection's mutex
	conn *conn
}

func (s *stmt) Close() error {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	s.busy = false
	return nil
}

func (s *stmt) NumInput() int { return s.base.NumInput() }

// Exec and Query complete driver.Stmt; database/sql calls the Context forms.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 driver.Stmt requires Exec; the call is forwarded as it is
	return s.base.Exec(args)
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 see Exec
	return s.base.Query(args)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.base.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.base.(driver.StmtQueryContext).QueryContext(ctx, args)
}
