package localdb

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/model"
)

// Ops a crash left in syncing go back to the queue, due now, with their ids.
func TestCrashRecoveryOfSyncingOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t), testSealing(t)...)
	if err != nil {
		t.Fatal(err)
	}
	m := syncedMatter(t, db)
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "in flight"})
	sent := nextBatch(t, db, 10)
	if len(sent) != 1 {
		t.Fatalf("batch %+v", sent)
	}
	// The process dies here: no MarkRetry, no ApplyPushResults.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	ops := outbox(t, db)
	if len(ops) != 1 || ops[0].OpID != sent[0].OpID || ops[0].State != OpRetrying || ops[0].NextAttempt.After(time.Now()) {
		t.Fatalf("recovered op %+v", ops)
	}
	wantState(t, db, n.ID, model.StateRetrying)
	again := nextBatch(t, db, 10)
	if len(again) != 1 || again[0].OpID != sent[0].OpID || again[0].Attempts != 2 {
		t.Fatalf("the interrupted op is not sent again under its id: %+v", again)
	}
}

// DataVersion moves when another connection, here another DB on the same
// file as a second process would open it, commits.
func TestDataVersionSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	ui := openAt(t, path)
	cli := openAt(t, path)
	v1, err := ui.DataVersion(bg)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ui.DataVersion(bg); v != v1 {
		t.Fatal("DataVersion moved without a commit")
	}
	m := mustMatter(t, cli, "written by the other process")
	v2, err := ui.DataVersion(bg)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 {
		t.Fatal("DataVersion did not see another connection's commit")
	}
	if r := mustGet(t, ui, m); r.Fields["title"] != "written by the other process" {
		t.Fatalf("reader does not see the other writer: %+v", r)
	}
	mustMatter(t, ui, "own write")
	if v3, _ := ui.DataVersion(bg); v3 == v2 {
		t.Fatal("DataVersion did not see its own commit")
	}
}

// A database with queued ops survives a later migration; a failed migration
// changes nothing; a newer database is refused.
func TestMigrationsKeepQueuedOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	schema := testSchema(t)
	// Start from the first version: the later embedded migrations run over
	// queued ops too (those of writesNeed run with the first).
	first, upgrade := upgradeFrom(t, migs, 2)
	db, err := open(bg, path, schema, options{migrations: first})
	if err != nil {
		t.Fatal(err)
	}
	m := mustMatter(t, db, "M")
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "queued"})
	// Read with the columns of the first version (and fields_entry): the
	// code of today expects the columns of every migration. A create's
	// fields are its journal entry's.
	type queued struct{ id, fields string }
	var before []queued
	rows, err := db.r.QueryContext(bg, `SELECT o.op_id, coalesce(o.fields, j.after) FROM outbox o
		LEFT JOIN journal j ON j.seq = o.fields_entry ORDER BY o.seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.fields); err != nil {
			t.Fatal(err)
		}
		before = append(before, q)
	}
	rows.Close()
	db.Close()

	nextVersion := migs[len(migs)-1].Version + 1
	bad := append(append([]migration{}, upgrade...), migration{Version: nextVersion, Name: "broken.sql",
		SQL: "ALTER TABLE records ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0; THIS IS NOT SQL;"})
	if _, err := open(bg, path, schema, options{migrations: bad}); err == nil {
		t.Fatal("a broken migration opened")
	}

	next := append(append([]migration{}, upgrade...), migration{Version: nextVersion, Name: "pinned.sql",
		SQL: "ALTER TABLE records ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0; CREATE INDEX records_pinned ON records (pinned);"})
	db, err = open(bg, path, schema, options{migrations: next})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(bg); err != nil || v != nextVersion {
		t.Fatalf("schema version %d %v", v, err)
	}
	after := outbox(t, db)
	if len(after) != len(before) {
		t.Fatalf("ops lost in migration: %d -> %d", len(before), len(after))
	}
	for i := range before {
		fields, err := decodeFields(sql.NullString{String: before[i].fields, Valid: true})
		if err != nil {
			t.Fatal(err)
		}
		if before[i].id != after[i].OpID || !model.Equal(fields, after[i].Fields) {
			t.Fatalf("op changed in migration: %+v -> %+v", before[i], after[i])
		}
	}
	if got := nextBatch(t, db, 10); len(got) != 2 {
		t.Fatalf("migrated ops not sendable: %+v", got)
	}
	db.Close()

	if _, err := open(bg, path, schema, options{migrations: migs}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("opening a newer database: %v", err)
	}
}

func TestJournalIsAppendOnly(t *testing.T) {
	db := openTest(t)
	mustMatter(t, db, "M")
	for _, q := range []string{"UPDATE journal SET summary = 'rewritten'", "DELETE FROM journal"} {
		if _, err := db.w.ExecContext(bg, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if j, _ := db.Journal(bg, JournalQuery{}); len(j) != 1 || j[0].Summary == "rewritten" {
		t.Fatalf("journal %+v", j)
	}
}

func TestJournalQueries(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "M")
	n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "A"})
	mustUpdate(t, db, n.ID, model.Fields{"title": "B"})
	all, err := db.Journal(bg, JournalQuery{})
	if err != nil || len(all) != 3 || all[0].Seq <= all[1].Seq {
		t.Fatalf("journal newest first: %+v %v", all, err)
	}
	if all[0].Before["title"] != "A" || all[0].After["title"] != "B" {
		t.Fatalf("update entry %+v", all[0])
	}
	feed, _ := db.Journal(bg, JournalQuery{AfterSeq: all[1].Seq})
	if len(feed) != 1 || feed[0].Seq != all[0].Seq {
		t.Fatalf("after seq %+v", feed)
	}
	if lim, _ := db.Journal(bg, JournalQuery{Limit: 2}); len(lim) != 2 {
		t.Fatalf("limit %+v", lim)
	}
	if rec := journalOf(t, db, m); len(rec) != 1 || rec[0].Kind != "create" {
		t.Fatalf("by record %+v", rec)
	}
}

func TestDoctorFindsAndRepairs(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, id, model.Fields{"title": "B"})
	rep, err := db.Doctor(bg, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("healthy database: %+v %v", rep, err)
	}
	// Break it: a wrong state, an op whose record is gone, an op stuck in syncing.
	orphan := model.NewID()
	old := nanos(time.Now().Add(-time.Hour))
	stmts := []string{
		"UPDATE records SET state = 'synced' WHERE id = '" + id + "'",
		`INSERT INTO outbox (op_id, record_id, collection, kind, base_version, state, created_at, updated_at)
			VALUES ('` + model.NewID() + `', '` + orphan + `', 'note', 'update', 1, 'pending', 1, 1)`,
	}
	for _, s := range stmts {
		if _, err := db.w.ExecContext(bg, s); err != nil {
			t.Fatal(err)
		}
	}
	stuck := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "stuck"})
	if _, err := db.w.ExecContext(bg, "UPDATE outbox SET state = 'syncing', updated_at = ? WHERE record_id = ?", old, stuck.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(bg, "UPDATE records SET state = 'syncing' WHERE id = ?", stuck.ID); err != nil {
		t.Fatal(err)
	}
	before := dump(t, db)
	rep, err = db.Doctor(bg, false)
	if err != nil || len(rep.Problems) != 3 || len(rep.Repaired) != 0 {
		t.Fatalf("doctor: %+v %v", rep, err)
	}
	if dump(t, db) != before {
		t.Fatal("doctor without repair changed the database")
	}
	rep, err = db.Doctor(bg, true)
	if err != nil || len(rep.Repaired) < 4 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	wantState(t, db, id, model.StatePending)
	wantState(t, db, stuck.ID, model.StateRetrying)
	if rep, _ := db.Doctor(bg, false); len(rep.Problems) != 0 {
		t.Fatalf("problems left after repair: %+v", rep.Problems)
	}
	if v, _ := db.Meta(bg, "resync"); v != "1" {
		t.Fatal("repair does not re-pull")
	}
	if ops := outbox(t, db); len(ops) != 3 {
		t.Fatalf("repair lost ops: %+v", ops)
	}
}

func TestOpenErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(bg, filepath.Join(dir, "missing", "casefile.db"), testSchema(t))
	if !errors.Is(err, ErrCannotOpen) || strings.Contains(err.Error(), "SQLITE") {
		t.Fatalf("open in a missing directory: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bg, junk, testSchema(t)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open a file that is not a database: %v", err)
	}
}
