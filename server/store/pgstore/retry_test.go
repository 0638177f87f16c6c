package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casefile/internal/faultproxy"
	"casefile/model"
	"casefile/server/store"
	"casefile/server/storetest"
)

// warmPool runs reads at once, twice, and a write, so that the store's
// pool holds several connections, each used within the last second and
// each taken from the pool once already (pgx's adapter checks a
// connection the first time it is taken again, however briefly idle).
func warmPool(t *testing.T, st *Store) {
	t.Helper()
	ctx := context.Background()
	for range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- st.Read(ctx, func(rd store.Reader) error {
					_, err := rd.Head(ctx)
					time.Sleep(50 * time.Millisecond) // hold the connection while the others take theirs
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("warming the pool: %v", err)
			}
		}
	}
	if _, err := takeSeq(ctx, st); err != nil {
		t.Fatalf("warming the pool: %v", err)
	}
}

// linkedStore opens a store whose connections to PostgreSQL pass a link
// the test can cut, warms its pool (warmPool) when warm, and takes a
// sequence: it returns the store, closed with the test, the link and
// that sequence.
func linkedStore(t *testing.T, warm bool) (*Store, *faultproxy.Link, int64) {
	t.Helper()
	ctx := context.Background()
	cfg, link := throughLink(t, storetest.PostgresURL(t))
	st, err := open(ctx, cfg, defaultTimings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if warm {
		warmPool(t, st)
	}
	before, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return st, link, before
}

// appPrefix begins the application_name of a test's store, whose
// sessions the test ends.
const appPrefix = "casefile-retry-"

// TestTransactionsBeginAgainOnDeadConnections: right after every
// connection of a store's pool died (closed by the network, or ended by
// PostgreSQL as when it shuts down for a restart) while the database
// takes new ones, a write, a read and a read of the access generation
// alone succeed, and the write's function runs and commits once, whether
// its first statement is a query (which goes with BEGIN) or not. The
// pool checks a connection only once it has been idle for a second, so
// those used just before came out of it dead and each transaction failed
// on its BEGIN, having sent nothing the database could act on.
func TestTransactionsBeginAgainOnDeadConnections(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	for _, kill := range []struct {
		name string
		kill func(t *testing.T, st *Store, cut func() int)
	}{
		{"cut by the network", func(t *testing.T, _ *Store, cut func() int) {
			if n := cut(); n < 3 {
				t.Fatalf("%d connections passed the link, want the pool's and the listener's", n)
			}
		}},
		{"ended by PostgreSQL", func(t *testing.T, st *Store, _ func() int) {
			admin, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(ctx)
			// The store's sessions only (its own application_name), as
			// a fast shutdown ends them: each is sent FATAL 57P01 and
			// closed.
			name := st.cfg.RuntimeParams["application_name"]
			if !strings.HasPrefix(name, appPrefix) {
				t.Fatalf("the store's sessions are named %q, not with %q", name, appPrefix)
			}
			rows, err := admin.Query(ctx, `SELECT pid, application_name FROM pg_stat_activity WHERE application_name = $1`, name)
			if err != nil {
				t.Fatal(err)
			}
			var pids []int32
			for rows.Next() {
				var pid int32
				var app string
				if err := rows.Scan(&pid, &app); err != nil {
					t.Fatal(err)
				}
				if app == name {
					pids = append(pids, pid)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			n := len(pids)
			t.Logf("ending %d sessions named %q: %v", n, name, pids)
			for _, pid := range pids {
				var ended bool
				if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1, 5000)`, pid).Scan(&ended); err != nil || !ended {
					t.Fatalf("end session %d: %v", pid, err)
				}
			}
			if n < 3 {
				t.Fatalf("%d sessions ended, want the pool's and the listener's", n)
			}
		}},
	} {
		t.Run(kill.name, func(t *testing.T) {
			cfg, link := throughLink(t, url)
			cfg.RuntimeParams["application_name"] = appPrefix + model.NewID()
			st, err := open(ctx, cfg, defaultTimings)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			warmPool(t, st)
			before, err := takeSeq(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			kill.kill(t, st, link.Cut)
			var (
				wg         sync.WaitGroup
				runs       atomic.Int32
				seq        int64
				werr, rerr error
				gerr, xerr error
				head, gen  int64
				xruns      atomic.Int32
			)
			// A write whose first statement is not a query (which goes
			// with BEGIN) goes after BEGIN, on the connection BEGIN ended
			// on. It goes first and alone: the pool hands it a dead one.
			xerr = st.Write(ctx, func(tx store.Tx) error {
				xruns.Add(1)
				_, err := tx.RevokeDevice(ctx, "nobody", "no device", time.Now(), "test")
				return err
			})
			wg.Add(3)
			go func() {
				defer wg.Done()
				werr = st.Write(ctx, func(tx store.Tx) error {
					runs.Add(1)
					// A preload first: it goes with BEGIN.
					if err := tx.Preload(ctx, store.Ahead{RecordIDs: []string{model.NewID()}}); err != nil {
						return err
					}
					var err error
					seq, err = tx.NextSeq(ctx)
					return err
				})
			}()
			go func() {
				defer wg.Done()
				rerr = st.Read(ctx, func(rd store.Reader) error {
					h, err := rd.Head(ctx)
					head = h.Seq
					return err
				})
			}()
			go func() {
				defer wg.Done()
				gerr = st.Read(ctx, func(rd store.Reader) error {
					var err error
					gen, err = rd.AccessGen(ctx)
					return err
				})
			}()
			wg.Wait()
			if werr != nil {
				t.Errorf("write right after the pool's connections died: %v", werr)
			} else if seq != before+1 || runs.Load() != 1 {
				t.Errorf("the write took seq %d, want %d, its function run %d times, want 1", seq, before+1, runs.Load())
			}
			if xerr != nil || xruns.Load() != 1 {
				t.Errorf("write beginning with a statement right after the pool's connections died: %v (run %d times)", xerr, xruns.Load())
			}
			if rerr != nil {
				t.Errorf("read right after the pool's connections died: %v", rerr)
			} else if head < before {
				t.Errorf("the read saw head %d, before the last write's %d", head, before)
			}
			if gerr != nil {
				t.Errorf("read of the access generation right after the pool's connections died: %v (generation %d)", gerr, gen)
			}
			after, err := takeSeq(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if after != before+2 {
				t.Errorf("the next write took seq %d, want %d: a write was applied twice or not at all", after, before+2)
			}
		})
	}
}

// TestLostCommitIsNotRetried: a write whose connection dies after its
// COMMIT was sent (here, the answer to it is lost; the transaction
// committed) fails, and is not run again: only its caller can know
// whether to resend it, and the server's ledger answers a resent push.
// Running it again on another connection would apply it twice.
func TestLostCommitIsNotRetried(t *testing.T) {
	ctx := context.Background()
	st, link, before := linkedStore(t, true)
	link.LoseNextCommit()
	var runs int
	err := st.Write(ctx, func(tx store.Tx) error {
		runs++
		seq, err := tx.NextSeq(ctx)
		tx.Notify(store.Hint{Seq: seq})
		return err
	})
	if lost := link.Disarm(); lost != 1 {
		t.Fatalf("the link lost %d commit answers, want 1", lost)
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write whose commit answer was lost: %v, want the lost connection's error", err)
	}
	if errors.Is(err, store.ErrNotCommitted) {
		t.Errorf("a write whose commit answer was lost says it did not commit: %v", err)
	}
	if runs != 1 {
		t.Errorf("a write whose commit answer was lost ran its function %d times, want once", runs)
	}
	after, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if after != before+2 {
		t.Errorf("the write after took seq %d, want %d: the one whose commit answer was lost committed %d times, want once",
			after, before+2, after-before-1)
	}
}

// TestWriteLostBeforeItsCommitSaysSo: a write whose connection dies
// between its first statement and its COMMIT (the database restarted,
// the network reset it) fails with store.ErrNotCommitted, which lets a
// caller whose function may run twice run it again, and nothing of it
// stands. Its function is not run again by the store.
func TestWriteLostBeforeItsCommitSaysSo(t *testing.T) {
	ctx := context.Background()
	st, link, before := linkedStore(t, true)
	runs := 0
	err := st.Write(ctx, func(tx store.Tx) error {
		runs++
		// The preload goes with BEGIN and the head's lock: the
		// transaction has begun when the link is cut.
		if err := tx.Preload(ctx, store.Ahead{OpIDs: []string{model.NewID()}}); err != nil {
			return err
		}
		if _, err := tx.NextSeq(ctx); err != nil {
			return err
		}
		if n := link.Cut(); n == 0 {
			t.Error("no connection to cut")
		}
		_, err := tx.RevokeDevice(ctx, "nobody", "no device", time.Now(), "test")
		return err
	})
	if !errors.Is(err, store.ErrNotCommitted) {
		t.Fatalf("a write whose connection died before its COMMIT: %v, want ErrNotCommitted", err)
	}
	if runs != 1 {
		t.Errorf("the store ran the write's function %d times, want once: running it again is its caller's choice", runs)
	}
	after, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("the next write took seq %d, want %d: the write whose connection died committed", after, before+1)
	}
}

// TestCommitNeverSentSaysSo: a write whose connection dies after its
// first statement and before its COMMIT, with nothing sent in between,
// fails as that COMMIT's pipeline is prepared: pgx prepares a pipeline's
// new statements (here, the write's last statement, with its ledger
// row, never sent on this connection before) in a round trip of its own
// before the pipeline goes. No COMMIT was sent, so the error is
// store.ErrNotCommitted, and nothing of the write stands.
func TestCommitNeverSentSaysSo(t *testing.T) {
	ctx := context.Background()
	st, link, before := linkedStore(t, false)
	op := model.NewID()
	err := st.Write(ctx, func(tx store.Tx) error {
		if err := tx.Preload(ctx, store.Ahead{OpIDs: []string{op}}); err != nil {
			return err
		}
		seq, err := tx.NextSeq(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Ledger(ctx, op); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ledger of a new op: %w", err)
		}
		if err := tx.PutLedger(ctx, store.LedgerEntry{OpID: op, User: "u", At: time.Now(), Result: []byte(`{}`)}); err != nil {
			return err
		}
		tx.Notify(store.Hint{Seq: seq})
		if n := link.Cut(); n == 0 {
			t.Error("no connection to cut")
		}
		return nil
	})
	if !errors.Is(err, store.ErrNotCommitted) {
		t.Fatalf("a write whose COMMIT's pipeline met a dead connection as it was prepared: %v, want ErrNotCommitted", err)
	}
	after, err := takeSeq(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("the next write took seq %d, want %d: the write whose COMMIT was never sent committed", after, before+1)
	}
	err = st.Read(ctx, func(rd store.Reader) error {
		_, err := rd.Ledger(ctx, op)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the ledger of the write whose COMMIT was never sent: %v, want not found", err)
	}
}

// TestDeviceNoteAfterTheConnectionsDied: a device's last-seen note right
// after PostgreSQL ended every session of the store's pool, as it does
// when it shuts down for a restart, is written: the note is one statement
// that may run twice, and it goes again on another connection. Before,
// it failed, and the device's last-seen time waited for its next note.
func TestDeviceNoteAfterTheConnectionsDied(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	name := appPrefix + model.NewID()
	cfg.RuntimeParams["application_name"] = name
	st, err := open(ctx, cfg, defaultTimings)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	warmPool(t, st)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	err = admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1) AS ended`, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("%d sessions ended, want the pool's and the listener's", n)
	}
	at := time.Now().Truncate(time.Microsecond)
	if err := st.TouchDevice(ctx, "alice", "laptop", at); err != nil {
		t.Fatalf("a device's last-seen note right after the pool's connections died: %v", err)
	}
	var devices []store.Device
	if err := st.Read(ctx, func(rd store.Reader) (err error) { devices, err = rd.Devices(ctx, "alice"); return err }); err != nil {
		t.Fatal(err)
	}
	if len(devices) != 1 || !devices[0].LastSeen.Equal(at) {
		t.Errorf("alice's devices %+v, want laptop last seen at %v", devices, at)
	}
}
