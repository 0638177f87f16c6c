package localdb

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/assets"
	"casefile/model"
	"casefile/protocol"
	"casefile/vault"
)

var bg = context.Background()

// testKeys maps each test's database path to the keys it was sealed with,
// so that reopening a file finds its key.
var testKeys sync.Map

// testSealing decides whether a test's database is encrypted: half the
// tests, chosen by name, so that every run covers both kinds of file.
// CASEFILE_TEST_SEALED=all or none forces one kind.
func testSealing(t testing.TB) []Option {
	t.Helper()
	mode := os.Getenv("CASEFILE_TEST_SEALED")
	if _, bench := t.(*testing.B); bench && mode != "all" {
		return nil // benchmarks compare like with like; BenchmarkSealing measures the cost
	}
	switch mode {
	case "none":
		return nil
	case "all":
	default:
		h := fnv.New32a()
		h.Write([]byte(t.Name()))
		if h.Sum32()%2 == 0 {
			return nil
		}
	}
	k, _ := testKeys.LoadOrStore(t.Name(), mustKeys(t))
	return []Option{WithSealer(k.(*vault.Keys))}
}

func mustKeys(t testing.TB) *vault.Keys {
	t.Helper()
	k, err := vault.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testSchema(t testing.TB) *model.Schema {
	t.Helper()
	s, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openTest opens a fresh database file in a temporary directory.
func openTest(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "casefile.db"))
}

func openAt(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(bg, path, testSchema(t), testSealing(t)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustMatter creates a matter and returns its id.
func mustMatter(t testing.TB, db *DB, title string) string {
	t.Helper()
	r, err := db.Create(bg, "matter", "", model.Fields{"title": title})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func mustCreate(t testing.TB, db *DB, collection string, fields model.Fields) model.Record {
	t.Helper()
	r, err := db.Create(bg, collection, "", fields)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustUpdate(t testing.TB, db *DB, id string, changes model.Fields) model.Record {
	t.Helper()
	r, err := db.Update(bg, id, changes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustGet(t testing.TB, db *DB, id string) model.Record {
	t.Helper()
	r, err := db.Get(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// serverRecord is a record as the server would send it.
func serverRecord(id, collection, matter string, version int64, fields model.Fields) protocol.Record {
	return protocol.Record{ID: id, Collection: collection, MatterID: matter, Version: version, Seq: version,
		Fields: fields, UpdatedAt: time.Date(2025, 1, 1, 0, 0, int(version), 0, time.UTC)}
}

// pull applies one final page holding recs.
func pull(t testing.TB, db *DB, cursor int64, recs ...protocol.Record) {
	t.Helper()
	if err := db.ApplyPull(bg, protocol.PullResponse{Records: recs, Cursor: cursor}); err != nil {
		t.Fatal(err)
	}
}

// syncedMatter puts a matter the server has (version 1) into db.
func syncedMatter(t testing.TB, db *DB) string {
	t.Helper()
	id := model.NewID()
	pull(t, db, 1, serverRecord(id, "matter", id, 1, model.Fields{"title": "Smith v Jones"}))
	return id
}

// openWithMatter opens a test database holding one matter the server has,
// and returns the matter's id with it.
func openWithMatter(t testing.TB) (*DB, string) {
	t.Helper()
	db := openTest(t)
	return db, syncedMatter(t, db)
}

// syncedNote puts a note the server has at version into db.
func syncedNote(t testing.TB, db *DB, matter string, version int64, fields model.Fields) string {
	t.Helper()
	id := model.NewID()
	f := model.Fields{"matter_id": matter}
	for k, v := range fields {
		f[k] = v
	}
	pull(t, db, version, serverRecord(id, "note", matter, version, f))
	return id
}

func outbox(t testing.TB, db *DB) []OutboxOp {
	t.Helper()
	ops, err := db.Outbox(bg)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func opsOf(t testing.TB, db *DB, recordID string) []OutboxOp {
	t.Helper()
	var out []OutboxOp
	for _, o := range outbox(t, db) {
		if o.RecordID == recordID {
			out = append(out, o)
		}
	}
	return out
}

func journalOf(t testing.TB, db *DB, recordID string) []JournalEntry {
	t.Helper()
	j, err := db.Journal(bg, JournalQuery{RecordID: recordID})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// dump renders every table, so a test can tell that nothing changed. The
// search backlog is caught up first: the indexer does so on its own time.
func dump(t testing.TB, db *DB) string {
	t.Helper()
	caughtUp(t, db)
	var b strings.Builder
	for _, q := range []string{
		"SELECT " + recordCols + ", resync_mark FROM records ORDER BY rid",
		"SELECT rowid FROM records_fts ORDER BY rowid",
		"SELECT " + opCols + " FROM outbox ORDER BY seq",
		"SELECT " + conflictCols + " FROM conflicts ORDER BY record_id",
		"SELECT seq, at, actor, kind, record_id, collection, op_id, summary, before, after FROM journal ORDER BY seq",
		"SELECT key, value FROM meta ORDER BY key",
	} {
		dumpRows(t, &b, db.w, q)
		b.WriteString("--\n")
	}
	return b.String()
}

// dumpRows writes each row a query returns as a line of its values.
func dumpRows(t testing.TB, b *strings.Builder, q querier, query string) {
	t.Helper()
	rows, err := q.QueryContext(bg, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func wantState(t testing.TB, db *DB, id string, want model.SyncState) {
	t.Helper()
	if got := mustGet(t, db, id).State; got != want {
		t.Fatalf("record state = %s, want %s", got, want)
	}
}

// queryPlan is SQLite's plan of query on q, its steps joined by "; ".
func queryPlan(t testing.TB, q querier, query string, args ...any) string {
	t.Helper()
	rows, err := q.QueryContext(bg, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "; ")
}

// writesNeed are the migrations adding columns or tables that the code of today
// writes on every create or reads with every op: a database of an older
// schema must have them before a test can write to it with that code.
var writesNeed = []int{19, 24, 25, 26, 27, 28}

// upgradeFrom is a database made before migration n and the migrations
// that bring it up to date, for tests that write to the older database
// with the code of today: the migrations of writesNeed run as part of the
// last one before n instead of in their turn, which then does nothing.
func upgradeFrom(t testing.TB, migs []migration, n int) (before, upgrade []migration) {
	t.Helper()
	var needed []string
	for _, m := range migs {
		if slices.Contains(writesNeed, m.Version) {
			needed = append(needed, m.SQL)
			m.SQL = "SELECT 1"
		}
		upgrade = append(upgrade, m)
	}
	for _, m := range migs {
		if m.Version < n {
			before = append(before, m)
		}
	}
	if len(before) == 0 || len(needed) != len(writesNeed) {
		t.Fatalf("no migration before %d, or not all of %v embedded", n, writesNeed)
	}
	last := &before[len(before)-1]
	last.SQL += "\n;\n" + strings.Join(needed, "\n;\n")
	return before, upgrade
}

// olderSeeded is a sealed database made before migration n (upgradeFrom),
// seeded with seedBacklog: a test reads it, then reopens it at the older
// schema or brought up to date.
type olderSeeded struct {
	t              testing.TB
	path           string
	before, latest []migration
}

func openOlderSeeded(t *testing.T, n int) (*DB, *olderSeeded) {
	t.Helper()
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	o := &olderSeeded{t: t, path: filepath.Join(t.TempDir(), "casefile.db")}
	o.before, o.latest = upgradeFrom(t, migs, n)
	db := o.reopen(false)
	seedBacklog(t, db)
	return db, o
}

// reopen opens the database again, brought up to date when latest.
func (o *olderSeeded) reopen(latest bool) *DB {
	o.t.Helper()
	opts := options{migrations: o.before}
	if latest {
		opts.migrations = o.latest
	}
	for _, opt := range testSealing(o.t) {
		opt(&opts)
	}
	db, err := open(bg, o.path, testSchema(o.t), opts)
	if err != nil {
		o.t.Fatal(err)
	}
	return db
}

// caughtUp writes the search backlog's entries, as the indexer would when
// writes pause, so that the full-text rows can be compared.
func caughtUp(t testing.TB, db *DB) {
	t.Helper()
	if err := db.catchUpSearch(bg); err != nil {
		t.Fatal(err)
	}
}
