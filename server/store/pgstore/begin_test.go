package pgstore

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casefile/model"
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
// statement that takes the head's lock and, when its first statement is
// a preload, with that too; its last statement goes with COMMIT. So one
// with nothing to write is two round trips (it was three, BEGIN alone),
// and so is one that preloads a record and reads it (it was four). The
// lock is taken all the same: a write after one that took a seq sees it,
// and the preload sees a record committed before.
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
	st, err := open(ctx, cfg, defaultTimings)
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
	const id = "01900000-0000-7000-8000-000000000001"
	t0 := time.Unix(1_700_000_000, 0).UTC()
	err = st.Write(ctx, func(tx store.Tx) error {
		seq, err := tx.NextSeq(ctx)
		if err != nil {
			return err
		}
		return tx.PutRecord(ctx, store.Record{ID: id, Collection: model.MatterCollection, MatterID: id,
			Version: 1, Seq: seq, Fields: model.Fields{"title": "M"}, FieldVersions: map[string]int64{"title": 1},
			CreatedBy: "alice", CreatedAt: t0, UpdatedBy: "alice", UpdatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, warm := range []bool{true, false} { // the first prepares the preload
		before = writes.Load()
		err = st.Write(ctx, func(tx store.Tx) error {
			if err := tx.Preload(ctx, store.Ahead{RecordIDs: []string{id}, OpIDs: []string{id}}); err != nil {
				return err
			}
			r, err := tx.Record(ctx, id)
			if err == nil && (r.Version != 1 || r.Fields["title"] != "M") {
				t.Errorf("preloaded %+v", r)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; !warm && n != 2 {
			t.Errorf("a write that preloads a record and reads it made %d round trips, want 2", n)
		}
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
