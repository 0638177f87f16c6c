package blobstore

import (
	"context"
	"testing"

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
