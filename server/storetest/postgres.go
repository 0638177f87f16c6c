package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casefile/internal/faultproxy"
)

// EnvPostgres names the PostgreSQL server tests use, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "CASEFILE_TEST_POSTGRES"

// PostgresURL returns a URL of the test PostgreSQL server whose search_path
// is a fresh schema of this test, dropped when the test ends. Without
// CASEFILE_TEST_POSTGRES the test is skipped; with it, an unreachable
// server fails the test (CI sets it, and must not pass by skipping).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return PostgresURLIn(t, "test_"+randomHex(6))
}

// PostgresURLIn is PostgresURL with the schema named schema (a name no
// other test uses, and an identifier as it is: no quoting).
func PostgresURLIn(t testing.TB, schema string) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set; skipping the PostgreSQL test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresAs returns storeURL (a URL PostgresURL gave) for a role of the
// test's own, made with LOGIN and nothing else, then given what grants
// say: each a statement in which {role} stands for the role and {schema}
// for the URL's schema ("GRANT USAGE ON SCHEMA {schema} TO {role}"). The
// role is dropped when the test ends.
func PostgresAs(t testing.TB, storeURL string, grants ...string) string {
	t.Helper()
	u, err := url.Parse(storeURL)
	if err != nil {
		t.Fatalf("parse %s: %v", storeURL, err)
	}
	schema := u.Query().Get("search_path")
	role := "test_role_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv(EnvPostgres))
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	for _, stmt := range append([]string{"CREATE ROLE {role} LOGIN"}, grants...) {
		stmt = strings.NewReplacer("{role}", role, "{schema}", schema).Replace(stmt)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, os.Getenv(EnvPostgres))
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		for _, stmt := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	u.User = url.User(role)
	return u.String()
}

// HoldLock opens a session of its own on url, begins a transaction and
// runs lockSQL in it (`SELECT … FOR UPDATE`, `pg_advisory_xact_lock(…)`),
// as a person's open psql session or a stuck replica would, and holds
// what it locked until release rolls the transaction back. The test's
// end releases it too.
func HoldLock(t testing.TB, url, lockSQL string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to hold a lock: %v", err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, lockSQL); err != nil {
		t.Fatalf("hold a lock with %q: %v", lockSQL, err)
	}
	return func() {
		t.Helper()
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			t.Fatalf("release the lock: %v", err)
		}
	}
}

// BehindLink returns pgURL with its connections passing a fault link, and
// the link, closed when the test ends (after what the test started on
// it has stopped).
func BehindLink(t testing.TB, pgURL string) (string, *faultproxy.Link) {
	t.Helper()
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	link, err := faultproxy.NewLink(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	u.Host = link.Addr
	return u.String(), link
}
