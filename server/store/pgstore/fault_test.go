package pgstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casefile/internal/faultproxy"
	"casefile/server/store"
	"casefile/server/storetest"
)

// throughLink returns the configuration of url with its connections
// passing a fault link, and the link.
func throughLink(t *testing.T, url string) (*pgx.ConnConfig, *faultproxy.Link) {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	link, err := faultproxy.NewLink(net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	host, port, err := net.SplitHostPort(link.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.Fallbacks = host, uint16(p), nil
	return cfg, link
}

// takeSeq is a write that takes a sequence and announces it.
func takeSeq(ctx context.Context, st *Store) (int64, error) {
	var seq int64
	err := st.Write(ctx, func(tx store.Tx) (err error) {
		seq, err = tx.NextSeq(ctx)
		tx.Notify(store.Hint{Seq: seq})
		return err
	})
	return seq, err
}

// TestListenerNoticesASilentLink: a replica whose listening connection
// goes silent (a firewall or NAT forgets the flow; nothing arrives and
// nothing is reported) notices within its idle check, listens again and
// publishes the head, so its streams hear of another replica's write made
// meanwhile. It used to wait on the dead connection for good, its
// streams never poked again.
func TestListenerNoticesASilentLink(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	cfg, link := throughLink(t, url)
	tm := defaultTimings
	tm.listenIdle, tm.ping = 200*time.Millisecond, 300*time.Millisecond
	a, err := open(ctx, cfg, tm)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	hints := make(chan store.Hint, 64)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = a.Listen(lctx, func(h store.Hint) {
			select {
			case hints <- h:
			default:
			}
		})
	}()
	time.Sleep(50 * time.Millisecond) // let Listen register
	if n := link.Sever(); n == 0 {
		t.Fatal("no connection passed the link")
	}
	seq, err := takeSeq(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case h := <-hints:
			if h.Seq >= seq {
				return
			}
		case <-deadline:
			t.Fatalf("replica A heard no hint up to seq %d within 10s of its listener's link going silent", seq)
		}
	}
}

// TestWriteGivesUpOnAHeldLock: a write waits for the head's lock no
// longer than the lock wait (here the URL's lock_timeout), then fails
// with store.ErrBusy, having done nothing; it used to wait as long as
// the session holding the lock (a person's open transaction) pleased.
// Once the lock is free, writes go on.
func TestWriteGivesUpOnAHeldLock(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	st, err := Open(ctx, url+"&lock_timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	release := storetest.HoldLock(t, url, "SELECT seq FROM head WHERE id = 1 FOR UPDATE")
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = takeSeq(wctx, st)
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("write while another session holds the head's lock: %v after %v, want store.ErrBusy", err, time.Since(start).Round(time.Millisecond))
	}
	release()
	seq, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if seq != before+1 {
		t.Errorf("the write after the busy one took seq %d, want %d: the busy one left a trace", seq, before+1)
	}
}

// TestDeadSessionFreesTheHeadLock: a replica whose link goes silent in
// the middle of a write transaction holds the head's lock in a session
// PostgreSQL cannot tell is gone (it waits for TCP, for hours). The
// store's sessions end such a transaction after their idle-in-transaction
// timeout, so the other replicas' writes go on; they used to wait for it.
func TestDeadSessionFreesTheHeadLock(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	cfg, link := throughLink(t, url)
	tm := defaultTimings
	tm.idleInTx = "1s"
	a, err := open(ctx, cfg, tm)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	actx, cancelA := context.WithCancel(ctx)
	locked, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.Write(actx, func(tx store.Tx) error {
			if _, err := tx.NextSeq(actx); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	defer func() {
		cancelA()
		<-aDone
	}()
	select {
	case <-locked:
	case err := <-aDone:
		t.Fatalf("replica A's write: %v", err)
	}
	link.Sever()
	close(release)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := takeSeq(wctx, b); err != nil {
		t.Fatalf("replica B's write while A's dead session held the head's lock: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
}
