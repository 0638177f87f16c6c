package pghealth

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultUserTimeout bounds how long data sent on a connection to
// PostgreSQL may go unacknowledged before the kernel gives the connection
// up (TCP_USER_TIMEOUT), when the URL does not say (tcp_user_timeout).
// Without it a write to a database host that vanished (powered off, cut
// off by a partition) is retransmitted for ~15 minutes before anything
// sees an error; every request's own deadline ends the wait for it, but
// the connection and whatever holds it (the change listener, a pooled
// connection's next user) would otherwise learn of the loss that late.
const DefaultUserTimeout = 30 * time.Second

// keepAlive is how often an idle connection is probed, so that a peer
// gone while nothing was sent is found too: the user timeout also bounds
// unanswered probes.
const keepAlive = 15 * time.Second

// GuardDial makes cfg's connections over TCP give up on a peer that stops
// acknowledging within the URL's tcp_user_timeout (milliseconds, as
// libpq reads it; 0 leaves the system's default) or DefaultUserTimeout,
// and probe idle connections every 15 s. The parameter is also sent on to
// PostgreSQL, which applies it to its own end (its setting of the same
// name). Connections over a Unix socket are left as they are.
func GuardDial(cfg *pgx.ConnConfig) error {
	timeout := DefaultUserTimeout
	if v, ok := cfg.RuntimeParams["tcp_user_timeout"]; ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return fmt.Errorf("database url: tcp_user_timeout %q is not a number of milliseconds", v)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: keepAlive, Control: userTimeoutControl(timeout)}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return nil
}
