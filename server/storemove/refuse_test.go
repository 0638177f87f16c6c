package storemove_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storemove"
	"casefile/server/storetest"
)

// smallStore makes a SQLite server store with a user, a matter and a
// note, stopped, and returns its data directory.
func smallStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srv := start(t, server.Options{DataDir: dir})
	alice := srv.NewUser(t, "alice", protocol.RoleMember)
	m := alice.CreateMatter(t, "Smith v Jones")
	alice.CreateNote(t, m.ID, "a note")
	srv.stop()
	return dir
}

// snapshot describes what a PostgreSQL schema holds: every table's rows
// and the head, as text, or "" when it holds no casefile store.
func snapshot(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range tables {
		var text string
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(t::text, ';' ORDER BY t::text), '') FROM `+pgx.Identifier{name}.Sanitize()+` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if name == "schema_migrations" {
			text = "" // applied_at
		}
		b.WriteString(name + ": " + text + "\n")
	}
	return b.String()
}

func TestMoveRefusesATargetWithData(t *testing.T) {
	pg := storetest.PostgresURL(t)
	ctx := context.Background()
	if _, err := storemove.Move(ctx, storemove.Options{DataDir: smallStore(t), URL: pg}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pg)
	_, err := storemove.Move(ctx, storemove.Options{DataDir: smallStore(t), URL: pg})
	if !errors.Is(err, storemove.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("second move: %v, want a refusal", err)
	}
	if after := snapshot(t, pg); after != before {
		t.Errorf("the refused move changed the target:\n%s\nbefore:\n%s", after, before)
	}

	// A server started on the target and given one user is not empty either.
	pg2 := storetest.PostgresURL(t)
	srv := start(t, server.Options{DatabaseURL: pg2})
	if err := srv.AddUser(ctx, "ana", "a long enough password", protocol.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	if _, err := storemove.Move(ctx, storemove.Options{DataDir: smallStore(t), URL: pg2}); !errors.Is(err, storemove.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "users") {
		t.Fatalf("move onto a store with a user: %v, want a refusal naming users", err)
	}
	// A store that a server only created is empty, and taken.
	pg3 := storetest.PostgresURL(t)
	start(t, server.Options{DatabaseURL: pg3}).stop()
	if _, err := storemove.Move(ctx, storemove.Options{DataDir: smallStore(t), URL: pg3}); err != nil {
		t.Fatalf("move onto a new empty store: %v", err)
	}
}

func TestMoveRefusesBadURLs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, want string }{
		{"postgres://casefile@db:notaport/casefile", "database URL"},
		{"postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", "connect to postgres"},
	} {
		if tc.want == "connect to postgres" {
			dir = smallStore(t)
		}
		_, err := storemove.Move(context.Background(), storemove.Options{DataDir: dir, URL: tc.url})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("move to %s: %v, want an error with %q", tc.url, err, tc.want)
		}
	}
	pg := storetest.PostgresURL(t)
	_, err := storemove.Move(context.Background(), storemove.Options{DataDir: t.TempDir(), URL: pg})
	if err == nil || !strings.Contains(err.Error(), "no server database") {
		t.Errorf("move of an empty directory: %v", err)
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("a refused move left tables behind:\n%s", s)
	}
}

// TestMoveRefusesOtherLayouts: a source older or newer than this build
// is named, and nothing moves.
func TestMoveRefusesOtherLayouts(t *testing.T) {
	pg := storetest.PostgresURL(t)
	for _, tc := range []struct{ change, want string }{
		{`DELETE FROM schema_migrations WHERE version = 15`, "older layout than this casefile's (migrations 015 not applied)"},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`, "newer casefile (migrations 999 unknown"},
	} {
		dir := smallStore(t)
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(tc.change); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = storemove.Move(context.Background(), storemove.Options{DataDir: dir, URL: pg})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("after %s: %v, want %q", tc.change, err, tc.want)
		}
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("a refused move left tables behind:\n%s", s)
	}
}

// TestMoveUnknownTable: a table the move does not know stops it.
func TestMoveUnknownTable(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := smallStore(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE retainers (id TEXT PRIMARY KEY); INSERT INTO retainers VALUES ('r1')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = storemove.Move(context.Background(), storemove.Options{DataDir: dir, URL: pg})
	if err == nil || !strings.Contains(err.Error(), "does not know (retainers)") {
		t.Fatalf("move with an unknown table: %v", err)
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("a refused move left tables behind:\n%s", s)
	}
}

// TestMoveCancelled: a move stopped after its first table leaves the
// target as it was, and the next one succeeds.
func TestMoveCancelled(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := smallStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var copied []string
	_, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: pg, Copied: func(table string, _ int64) {
		copied = append(copied, table)
		cancel()
	}})
	if err == nil || len(copied) != 1 {
		t.Fatalf("cancelled move: %v after %v", err, copied)
	}
	if found, err := pgstore.Exists(context.Background(), pg); err != nil || found {
		t.Errorf("after a cancelled move the target holds a store (%v, %v)", found, err)
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("a cancelled move left tables behind:\n%s", s)
	}
	res, err := storemove.Move(context.Background(), storemove.Options{DataDir: dir, URL: pg})
	if err != nil {
		t.Fatalf("move after a cancelled one: %v", err)
	}
	if res.Head.Seq == 0 {
		t.Errorf("moved head %+v", res.Head)
	}
}

// TestMoveRefusesASourceWrittenMeanwhile: an admin command writing the
// store while the move copies it (nothing but a server takes the serve
// lock) stops the move before it commits, naming the file that changed;
// the target is left as it was, and the next move carries the write.
// The copy read the store as immutable, so it would have missed it.
func TestMoveRefusesASourceWrittenMeanwhile(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := smallStore(t)
	ctx := context.Background()
	wrote := false
	_, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: pg, Copied: func(table string, _ int64) {
		if wrote {
			return
		}
		wrote = true
		st, err := sqlitestore.Open(ctx, filepath.Join(dir, sqlitestore.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Write(ctx, func(tx store.Tx) error {
			return tx.AddUser(ctx, store.User{Name: "bob", Role: "member", PasswordHash: "x", CreatedAt: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "changed while it was copied") || !strings.Contains(err.Error(), "nothing was committed") {
		t.Fatalf("a move whose source was written meanwhile: %v", err)
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("the refused move left tables behind:\n%s", s)
	}
	res, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: pg})
	if err != nil {
		t.Fatalf("the next move: %v", err)
	}
	for _, c := range res.Tables {
		if c.Table == "users" && c.Rows != 2 {
			t.Errorf("the next move copied %d users, want alice and bob", c.Rows)
		}
	}
}

// TestMoveAsRowOnlyRole: into a store a server already created (run once
// as the owner, as docs/config.md says), the move runs as the role the
// servers run as, which may only read and write rows. It used to create
// the tables IF NOT EXISTS first, which PostgreSQL refuses such a role.
func TestMoveAsRowOnlyRole(t *testing.T) {
	owner := storetest.PostgresURL(t)
	st, err := pgstore.Open(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	bs, err := blobstore.OpenPostgres(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	bs.Close()
	app := storetest.PostgresAs(t, owner,
		"GRANT USAGE ON SCHEMA {schema} TO {role}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
	res, err := storemove.Move(context.Background(), storemove.Options{DataDir: smallStore(t), URL: app})
	if err != nil {
		t.Fatalf("move as the servers' role: %v", err)
	}
	if res.Head.Seq == 0 || res.Head.AuditRows == 0 {
		t.Errorf("moved head %+v", res.Head)
	}
}

// TestMoveRefusesADamagedChunk: a stored chunk whose bytes no longer
// match its sum stops the move, naming the chunk, the file, the record
// it is attached to and what to do, and the target stays empty: a
// damaged file is not carried into the new store.
func TestMoveRefusesADamagedChunk(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := t.TempDir()
	srv := start(t, server.Options{DataDir: dir})
	alice := srv.NewUser(t, "alice", protocol.RoleMember)
	m := alice.CreateMatter(t, "Smith v Jones")
	data := []byte("the exhibit's bytes")
	id := attach(t, alice, m.ID, data, 0)
	srv.stop()
	path := blobstore.ChunkPath(filepath.Join(dir, blobstore.DirName), sum(data), 0)
	if err := os.WriteFile(path, []byte("the exhibit's bytez"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storemove.Move(context.Background(), storemove.Options{DataDir: dir, URL: pg})
	for _, want := range []string{"chunk 0 of file " + sum(data), "do not match", "record " + id, "restore"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a move over a damaged chunk: %v; want %q in it", err, want)
		}
	}
	if s := snapshot(t, pg); s != "" {
		t.Errorf("the refused move left tables behind:\n%s", s)
	}
}

// TestMoveArrivalsToAudit: an upload's arrival still to be audited moves
// with the file store; and a blob index made by a server older than that
// table, which lacks it, moves all the same.
func TestMoveArrivalsToAudit(t *testing.T) {
	ctx := context.Background()
	for _, older := range []bool{false, true} {
		dir := smallStore(t)
		blobs, err := blobstore.OpenDir(ctx, filepath.Join(dir, blobstore.DirName))
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("exhibit C")
		u := blobstore.Upload{ID: "01a2b3c4-0000-7000-8000-000000000001", User: "alice"}
		if err := blobs.PutChunk(ctx, u, 0, sum(data), data); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Hour).Truncate(time.Microsecond).UTC()
		p := blobstore.Proof{RecordID: u.ID, MatterID: u.ID, Hash: sum(data), Size: int64(len(data)), User: "alice", At: at, Device: "laptop-7"}
		if err := blobs.Commit(ctx, u.ID, p); err != nil {
			t.Fatal(err)
		}
		blobs.Close()
		if older {
			db, err := sql.Open("sqlite", filepath.Join(dir, blobstore.DirName, blobstore.IndexName))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`DROP TABLE blob_unaudited`); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		url := storetest.PostgresURL(t)
		if _, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: url}); err != nil {
			t.Fatalf("move (index older than its arrivals: %v): %v", older, err)
		}
		moved, err := blobstore.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := moved.Arrivals(ctx, time.Now(), 10)
		moved.Close()
		want := 1
		if older {
			want = 0
		}
		if err != nil || len(got) != want || (want == 1 && (got[0].Device != "laptop-7" || !got[0].At.Equal(at))) {
			t.Errorf("arrivals after the move (index older: %v): %+v, %v; want %d", older, got, err, want)
		}
	}
}
