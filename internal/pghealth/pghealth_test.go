package pghealth

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestIsLost: the errors of a connection found dead count as one; the
// database's answers, timeouts, an ended context and a connection that
// could not be made do not.
func TestIsLost(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"end of stream", fmt.Errorf("begin write: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"shut down", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"idle session ended", &pgconn.PgError{Severity: "FATAL", Code: "57P05"}, true},
		{"an error of a statement", &pgconn.PgError{Severity: "ERROR", Code: "23505"}, false},
		{"lock wait", &pgconn.PgError{Severity: "ERROR", Code: "55P03"}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", fmt.Errorf("read: %w", context.Canceled), false},
		{"other", errors.New("the transaction ended with \"ROLLBACK\", not COMMIT"), false},
	} {
		if got := IsLost(c.err); got != c.want {
			t.Errorf("%s (%v): %v, want %v", c.name, c.err, got, c.want)
		}
	}
	// A connection that could not be made, even for a FATAL answer.
	_, err := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connect to a closed port: %v, want a ConnectError", err)
	}
	if IsLost(err) {
		t.Errorf("a connection that could not be made (%v) counts as one found dead", err)
	}
}
