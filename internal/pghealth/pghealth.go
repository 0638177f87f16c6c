// Package pghealth keeps a database/sql pool of pgx connections to
// PostgreSQL usable after its connections die together (the database
// restarted, the network reset them): it says which errors prove a
// connection dead, so that work which sent nothing the database could
// act on is begun again on another, and it has the pool check the
// connections taken before such a loss before it hands them out. The
// server's record store (server/store/pgstore) and file store
// (server/blobstore) share it.
package pghealth

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pool is what a pool knows of its connections' health. Open the pool
// with stdlib.OptionShouldPing(p.ShouldPing) and report each error met
// on one of its connections to Lost.
type Pool struct {
	// Ping bounds a check of a connection (ShouldPing).
	Ping time.Duration
	// lostAt is when a pooled connection was last found dead (Unix
	// nanoseconds; 0: never), see Lost.
	lostAt atomic.Int64
}

// ShouldPing checks a pooled connection idle for over a second before it
// is used again, as pgx's database/sql adapter does, but within p.Ping:
// the adapter's own check waits as long as its caller's context lets it,
// and on a connection that died without a word a read batch or a push
// group would wait there until its own bound. A connection that does not
// answer is closed, which makes the adapter's check fail at once and the
// pool take another.
//
// A connection last taken before another was found dead is checked
// however briefly it was idle: what killed one (a restart of the
// database, a network that reset its connections) most likely killed
// every connection of the pool, and work that begins again after meeting
// a dead one (Lost) must not be handed the next. Once the pool has been
// through, no check is made again until the next loss.
func (p *Pool) ShouldPing(ctx context.Context, sp stdlib.ShouldPingParams) bool {
	if sp.IdleDuration <= time.Second && !p.takenBeforeLoss(sp.IdleDuration) {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, p.Ping)
	defer cancel()
	if err := sp.Conn.PgConn().Ping(pctx); err != nil {
		_ = sp.Conn.PgConn().Conn().Close()
		return true
	}
	return false
}

// takenBeforeLoss says whether a connection idle for idle was last taken
// from the pool before a connection was last found dead.
func (p *Pool) takenBeforeLoss(idle time.Duration) bool {
	at := p.lostAt.Load()
	return at != 0 && time.Now().Add(-idle).UnixNano() <= at
}

// Lost reports an error by which a connection proved dead (IsLost), and
// notes when, so that the pool checks its other connections before
// their next use (ShouldPing).
func (p *Pool) Lost(err error) bool {
	if !IsLost(err) {
		return false
	}
	p.lostAt.Store(time.Now().UnixNano())
	return true
}

// Retry says whether work that failed with err while ctx still stands,
// having sent nothing the database could act on, may begin again on
// another connection: err is a dead connection (Lost). Work whose
// context has ended must not begin again.
func (p *Pool) Retry(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && p.Lost(err)
}

// IsLost says whether err is a failure to reach PostgreSQL over a
// connection that had been made: pgx's own mark of an error met before
// anything was sent (pgconn.SafeToRetry, database/sql's ErrBadConn), the
// end of the connection (EOF, a reset, a broken pipe, a socket closed),
// or PostgreSQL's FATAL ending the session (57P01 when it shuts down or
// restarts). Not a timeout: a connection that goes silent is bounded by
// its caller's context. Not a connection that could not be made: that
// is the database unreachable, and a new connection would fail as it
// did.
func IsLost(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce):
		return false
	case errors.As(err, &pe):
		return pe.Severity == "FATAL"
	case pgconn.Timeout(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case pgconn.SafeToRetry(err), errors.Is(err, driver.ErrBadConn):
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}
