package blobstore

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"casefile/internal/faultproxy"
	"casefile/model"
	"casefile/server/storetest"
)

// TestPostgresSessionsBoundTheirWaits: the store's sessions wait at most
// 10 s for a lock and are ended by PostgreSQL after 30 s idle in a
// transaction, unless the URL says otherwise; without them a chunk waited
// for a stuck quota lock as long as its holder held it, and a replica
// killed mid-transaction kept the lock for hours.
func TestPostgresSessionsBoundTheirWaits(t *testing.T) {
	for _, c := range []struct {
		query          string
		lock, idleInTx string
	}{
		{"", "10s", "30s"},
		{"&lock_timeout=250ms&idle_in_transaction_session_timeout=5s", "250ms", "5s"},
	} {
		st, err := OpenPostgres(context.Background(), storetest.PostgresURL(t)+c.query)
		if err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlStore).db
		var lock, idle string
		if err := db.QueryRow(`SELECT current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout')`).Scan(&lock, &idle); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if lock != c.lock || idle != c.idleInTx {
			t.Errorf("URL %q: lock_timeout %s, idle_in_transaction_session_timeout %s; want %s and %s", c.query, lock, idle, c.lock, c.idleInTx)
		}
	}
}

// TestCallsAfterTheConnectionsDied: right after every connection of the
// store's pool died (cut by the network, or ended by PostgreSQL as when
// it shuts down for a restart) while the database takes new ones, every
// kind of call succeeds: a chunk staged (a write), an upload committed,
// a chunk read, a user's usage and an upload's staged chunks read. The
// pool checked a connection only once it had been idle for a second, so
// the ones used just before came out of it dead: the first requests
// after a restart were answered 500.
func TestCallsAfterTheConnectionsDied(t *testing.T) {
	ctx := context.Background()
	for _, kill := range []struct {
		name string
		kill func(t *testing.T, base, app string, link *faultproxy.Link) int
	}{
		{"cut by the network", func(_ *testing.T, _, _ string, link *faultproxy.Link) int { return link.Cut() }},
		{"ended by PostgreSQL", func(t *testing.T, base, app string, _ *faultproxy.Link) int {
			admin, err := pgx.Connect(ctx, base)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(ctx)
			var n int
			// As a fast shutdown ends them: FATAL 57P01, then closed.
			err = admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1) AS ended`, app).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}},
	} {
		t.Run(kill.name, func(t *testing.T) {
			base := storetest.PostgresURL(t)
			linked, link := storetest.BehindLink(t, base)
			u, err := url.Parse(linked)
			if err != nil {
				t.Fatal(err)
			}
			app := "casefile-blobs-" + model.NewID()
			q := u.Query()
			q.Set("application_name", app)
			u.RawQuery = q.Encode()
			st, err := OpenPostgres(ctx, u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()

			held := randomBytes(t, 3000)
			hu := Upload{ID: model.NewID(), User: "alice", Size: int64(len(held))}
			upload(t, st, hu, held)
			if err := st.Commit(ctx, hu.ID, Proof{RecordID: hu.ID, MatterID: "m", Hash: hashOf(held), Size: int64(len(held)), User: "alice"}); err != nil {
				t.Fatal(err)
			}
			// Five connections in the pool, each used a moment ago.
			db := st.(*sqlStore).db
			var conns []*sql.Conn
			for range 5 {
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.PingContext(ctx); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				c.Close()
			}
			if n := kill.kill(t, base, app, link); n < 5 {
				t.Fatalf("%d connections died, want the pool's 5", n)
			}

			staged := randomBytes(t, 2000)
			su := Upload{ID: model.NewID(), User: "alice", Size: int64(len(staged))}
			calls := map[string]func() error{
				"stage a chunk": func() error { return st.PutChunk(ctx, su, 0, hashOf(staged), staged) },
				"read a chunk": func() error {
					b, _, err := st.Chunk(ctx, hashOf(held), 0)
					if err == nil && hashOf(b) != hashOf(held) {
						err = errors.New("read other bytes than were stored")
					}
					return err
				},
				"read the usage": func() error { _, err := st.Usage(ctx, "alice"); return err },
				"read a proof":   func() error { _, err := st.Proof(ctx, hu.ID); return err },
				"read the staged chunks": func() error {
					_, err := st.Staged(ctx, model.NewID(), 10)
					return err
				},
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			for name, call := range calls {
				wg.Go(func() {
					if err := call(); err != nil {
						mu.Lock()
						defer mu.Unlock()
						t.Errorf("%s right after the pool's connections died: %v", name, err)
					}
				})
			}
			wg.Wait()
			if err := st.Commit(ctx, su.ID, Proof{RecordID: su.ID, MatterID: "m", Hash: hashOf(staged), Size: int64(len(staged)), User: "alice"}); err != nil {
				t.Fatalf("commit the upload staged after: %v", err)
			}
		})
	}
}
