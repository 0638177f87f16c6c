package pgstore

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"casefile/server/store"
	"casefile/server/storetest"
)

// countingConn counts the writes made to a connection: each is a round
// trip's request.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestWriteBeginsWithTheLock: a write transaction sends BEGIN with the
// statement that takes the head's lock, and its last statement with
// COMMIT, so one with nothing to write is two round trips (it was three,
// BEGIN alone); the lock is taken all the same, and a write after it
// sees the head the one before left.
func TestWriteBeginsWithTheLock(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	st, err := open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	noop := func(store.Tx) error { return nil }
	// The first write prepares the statements on its connection.
	if err := st.Write(ctx, noop); err != nil {
		t.Fatal(err)
	}
	before := writes.Load()
	var head int64
	err = st.Write(ctx, func(tx store.Tx) error {
		h, err := tx.Head(ctx)
		head = h.Seq
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := writes.Load() - before; n != 2 {
		t.Errorf("a write with nothing to write made %d round trips, want 2", n)
	}
	if err := st.Write(ctx, func(tx store.Tx) error { _, err := tx.NextSeq(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, func(tx store.Tx) error {
		h, err := tx.Head(ctx)
		if err == nil && h.Seq != head+1 {
			t.Errorf("head %d after a write that took a seq from %d", h.Seq, head)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
