package pgstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	"casefile/server/storetest"
)

// TestCommitWith: the last statement and the COMMIT go together; a last
// statement that fails commits nothing of the transaction and says why,
// and the connection can be rolled back and used again; a transaction
// already aborted is reported, not taken for committed; with no last
// statement it only commits.
func TestCommitWith(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	count := func() (n int) {
		t.Helper()
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM commit_with").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec("CREATE TEMP TABLE commit_with (n bigint NOT NULL)")

	exec("BEGIN")
	exec("INSERT INTO commit_with VALUES (1)")
	if err := commitWith(ctx, conn, "INSERT INTO commit_with SELECT * FROM unnest($1::bigint[])", []any{[]int64{2, 3}}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d rows after a commit with its last statement, want 3", n)
	}

	exec("BEGIN")
	exec("INSERT INTO commit_with VALUES (4)")
	err = commitWith(ctx, conn, "INSERT INTO commit_with VALUES (1 / $1::bigint)", []any{int64(0)})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("a failing last statement: %v, want its error", err)
	}
	exec("ROLLBACK")
	if n := count(); n != 3 {
		t.Fatalf("%d rows after a failed last statement, want 3: the transaction must not commit", n)
	}

	// A transaction an earlier statement aborted: PostgreSQL answers its
	// COMMIT with ROLLBACK, and no error.
	exec("BEGIN")
	exec("INSERT INTO commit_with VALUES (6)")
	if _, err := conn.ExecContext(ctx, "SELECT 1 / 0"); err == nil {
		t.Fatal("1 / 0 did not fail")
	}
	if err := commitWith(ctx, conn, "", nil); err == nil || !strings.Contains(err.Error(), "ROLLBACK") {
		t.Fatalf("the commit of an aborted transaction: %v, want an error naming ROLLBACK", err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d rows after an aborted transaction, want 3", n)
	}

	exec("BEGIN")
	exec("INSERT INTO commit_with VALUES (5)")
	if err := commitWith(ctx, conn, "", nil); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 4 {
		t.Fatalf("%d rows after a commit alone, want 4", n)
	}
	err = conn.Raw(func(dc any) error {
		if tx := dc.(*stdlib.Conn).Conn().PgConn().TxStatus(); tx != 'I' {
			t.Errorf("the connection is left in transaction status %q", tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
