package pghealth_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"casefile/internal/pghealth"
	"casefile/server/storetest"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// TestGuardDialSetsTheUserTimeout connects to the test PostgreSQL server
// over TCP and reads the socket's TCP_USER_TIMEOUT back from the kernel:
// the default, a URL's own, or the system's when the URL says 0. The
// server's end gets the URL's value as its setting of the same name.
func TestGuardDialSetsTheUserTimeout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_USER_TIMEOUT is set on Linux only")
	}
	base := storetest.PostgresURL(t)
	sep := "&"
	if !strings.Contains(base, "?") {
		sep = "?"
	}
	for _, c := range []struct {
		param  string
		want   time.Duration
		server string // SHOW tcp_user_timeout; "" not checked
	}{
		{"", pghealth.DefaultUserTimeout, ""},
		{"tcp_user_timeout=5000", 5 * time.Second, "5000"},
		{"tcp_user_timeout=0", 0, "0"},
	} {
		url := base
		if c.param != "" {
			url += sep + c.param
		}
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		if err := pghealth.GuardDial(cfg); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		tcp, ok := conn.PgConn().Conn().(*net.TCPConn)
		if !ok {
			t.Fatalf("%q: the connection is a %T, not TCP", c.param, conn.PgConn().Conn())
		}
		raw, err := tcp.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var ms int
		var gerr error
		if err := raw.Control(func(fd uintptr) {
			ms, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
		}); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		if got := time.Duration(ms) * time.Millisecond; got != c.want {
			t.Errorf("%q: TCP_USER_TIMEOUT %v, want %v", c.param, got, c.want)
		}
		if c.server != "" {
			var shown string
			if err := conn.QueryRow(ctx, "SHOW tcp_user_timeout").Scan(&shown); err != nil {
				t.Fatal(err)
			}
			if shown != c.server {
				t.Errorf("%q: the server's tcp_user_timeout %q, want %q", c.param, shown, c.server)
			}
		}
		conn.Close(ctx)
		cancel()
	}
}

func TestGuardDialRefusesABadTimeout(t *testing.T) {
	for _, v := range []string{"soon", "-1", "1.5"} {
		cfg, err := pgx.ParseConfig("postgres://nobody@127.0.0.1:1/none?tcp_user_timeout=" + v)
		if err != nil {
			t.Fatal(err)
		}
		err = pghealth.GuardDial(cfg)
		if err == nil || !strings.Contains(err.Error(), "tcp_user_timeout") {
			t.Errorf("tcp_user_timeout=%s: %v, want an error naming it", v, err)
		}
	}
}
