package pgstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// A database/sql driver over pgx connections, so the shared SQL of
// sqlstore runs unchanged and database/sql keeps the pool. (pgx's own
// stdlib adapter would pull in pgxpool and a module this build does not
// carry.) It supports exactly what sqlstore uses: ExecContext,
// QueryContext and transactions, with int64, float64, bool, string and
// []byte values.

type connector struct{ cfg *pgx.ConnConfig }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &dconn{c: conn}, nil
}

func (connector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("pgstore: open connections through the connector")
}

type dconn struct{ c *pgx.Conn }

var (
	_ driver.ExecerContext      = (*dconn)(nil)
	_ driver.QueryerContext     = (*dconn)(nil)
	_ driver.ConnBeginTx        = (*dconn)(nil)
	_ driver.Validator          = (*dconn)(nil)
	_ driver.SessionResetter    = (*dconn)(nil)
	_ driver.NamedValueChecker  = (*dconn)(nil)
	_ driver.ConnPrepareContext = (*dconn)(nil)
)

func (d *dconn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("pgstore: prepared statements are not supported")
}

func (d *dconn) PrepareContext(context.Context, string) (driver.Stmt, error) {
	return nil, errors.New("pgstore: prepared statements are not supported")
}

func (d *dconn) Close() error { return d.c.Close(context.Background()) }

func (d *dconn) Begin() (driver.Tx, error) {
	return d.BeginTx(context.Background(), driver.TxOptions{})
}

func (d *dconn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var o pgx.TxOptions
	switch opts.Isolation {
	case driver.IsolationLevel(0):
	case driver.IsolationLevel(4): // sql.LevelRepeatableRead
		o.IsoLevel = pgx.RepeatableRead
	case driver.IsolationLevel(6): // sql.LevelSerializable
		o.IsoLevel = pgx.Serializable
	default:
		return nil, fmt.Errorf("pgstore: isolation level %d is not supported", opts.Isolation)
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	tx, err := d.c.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return dtx{tx}, nil
}

func (d *dconn) IsValid() bool { return !d.c.IsClosed() }

func (d *dconn) ResetSession(context.Context) error {
	if d.c.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

// CheckNamedValue passes values through; pgx encodes Go values itself.
func (d *dconn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case int:
		nv.Value = int64(v)
	case nil, int64, float64, bool, string, []byte:
	default:
		var err error
		nv.Value, err = driver.DefaultParameterConverter.ConvertValue(v)
		return err
	}
	return nil
}

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

func (d *dconn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	tag, err := d.c.Exec(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (d *dconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := d.c.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return &drows{r: rows}, nil
}

type dtx struct{ tx pgx.Tx }

func (t dtx) Commit() error   { return t.tx.Commit(context.Background()) }
func (t dtx) Rollback() error { return t.tx.Rollback(context.Background()) }

type drows struct{ r pgx.Rows }

func (r *drows) Columns() []string {
	fds := r.r.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	return cols
}

func (r *drows) Close() error {
	r.r.Close()
	return r.r.Err()
}

func (r *drows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.r.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch x := v.(type) {
		case int16:
			dest[i] = int64(x)
		case int32:
			dest[i] = int64(x)
		case int64, float64, bool, string, []byte, nil:
			dest[i] = x
		case float32:
			dest[i] = float64(x)
		default:
			dest[i] = fmt.Sprint(x)
		}
	}
	return nil
}
