package storetest

import (
	"database/sql"
	"io/fs"
	"testing"
	"testing/fstest"

	"casefile/server/store/sqlstore"
)

// CheckCreatedSeqBackfill builds a database at the schema of migration 002
// in db from the store's migrations, with records and audit rows as the
// server wrote them then, opens the store (which runs the later
// migrations) and checks that each record's created_seq is the seq of its
// latest create in the audit log: removals rely on it to name only records
// that existed at a client's cursor.
func CheckCreatedSeqBackfill(t *testing.T, db *sql.DB, migrations fs.FS, lock string, open func(t *testing.T)) {
	t.Helper()
	old := fstest.MapFS{}
	for _, name := range []string{"001_init.sql", "002_moves_by_record.sql"} {
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	if err := sqlstore.Migrate(ctx, db, old, lock); err != nil {
		t.Fatalf("migrate to 002: %v", err)
	}
	recs := []struct {
		id, collection string
		seq            int64
	}{
		{"r-once", "note", 7},      // created at 2, updated at 7
		{"r-again", "task", 9},     // created at 3, compacted, created again at 8
		{"r-unaudited", "note", 4}, // no create in the audit log
	}
	for _, r := range recs {
		if _, err := db.ExecContext(ctx, `INSERT INTO records (id, collection, matter_id, version, seq, deleted, fields,
			field_versions, created_by, created_at, updated_by, updated_at) VALUES ($1, $2, 'm', 1, $3, false, '{}', '{}', 'u', 0, 'u', 0)`,
			r.id, r.collection, r.seq); err != nil {
			t.Fatal(err)
		}
	}
	audit := []struct {
		seq            int64
		action, target string
	}{
		{2, "create", "note/r-once"}, {3, "create", "task/r-again"}, {7, "update", "note/r-once"},
		{8, "create", "task/r-again"}, {9, "update", "task/r-again"}, {5, "create", "task/r-unaudited"},
	}
	for i, a := range audit {
		if _, err := db.ExecContext(ctx, `INSERT INTO audit (id, seq, at, actor, device, action, target, before_digest,
			after_digest, prev_hash, hash) VALUES ($1, $2, 0, 'u', 'd', $3, $4, '', '', '', '')`,
			i+1, a.seq, a.action, a.target); err != nil {
			t.Fatal(err)
		}
	}
	open(t)
	want := map[string]int64{"r-once": 2, "r-again": 8, "r-unaudited": 0}
	for id, seq := range want {
		var got int64
		if err := db.QueryRowContext(ctx, `SELECT created_seq FROM records WHERE id = $1`, id).Scan(&got); err != nil {
			t.Fatalf("read created_seq of %s: %v", id, err)
		}
		if got != seq {
			t.Errorf("created_seq of %s = %d, want %d", id, got, seq)
		}
	}
}

// CheckLedgerSeqBackfill checks migration 004 on a database of schema 003
// that has taken changes: its stored answers take the head's sequence and
// the ledger mark goes past it, as if every answer so far had been
// compacted — no resend from before the upgrade can be applied twice.
func CheckLedgerSeqBackfill(t *testing.T, db *sql.DB, migrations fs.FS, lock string, open func(t *testing.T)) {
	t.Helper()
	old := fstest.MapFS{}
	for _, name := range []string{"001_init.sql", "002_moves_by_record.sql", "003_created_seq.sql"} {
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	if err := sqlstore.Migrate(ctx, db, old, lock); err != nil {
		t.Fatalf("migrate to 003: %v", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE head SET seq = 9 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO ledger (op_id, user_name, device, at, result) VALUES ('op-1', 'u', 'd', 0, '{}')`); err != nil {
		t.Fatal(err)
	}
	open(t)
	var seq, mark int64
	if err := db.QueryRowContext(ctx, `SELECT seq FROM ledger WHERE op_id = 'op-1'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT ledger_through FROM head WHERE id = 1`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if seq != 9 || mark != 10 {
		t.Errorf("after migration 004 the old answer is at seq %d and the ledger mark is %d; want 9 and 10", seq, mark)
	}
}
