package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"casefile/model"
)

// convertSuffix names the encrypted copy Convert builds beside the
// database; a crash leaves it behind, and the next Convert starts over.
const convertSuffix = ".sealing"

// Convert encrypts the plaintext database at path in place, crash-safely:
// it builds a sealed copy beside it (every record, queued op, conflict,
// journal entry and setting, the search index rebuilt blind) and renames
// the copy over the original. A crash at any point leaves either the old
// database or the new one, whole; nothing queued is lost because the copy
// replaces the original in one rename. It runs when casefile starts,
// before anything else opens the file; the original's write lock, held
// while it copies, keeps out a write from another process meanwhile.
func Convert(ctx context.Context, path string, schema *model.Schema, s Sealer) error {
	if s == nil {
		return errors.New("convert: no key")
	}
	tmp := path + convertSuffix
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("convert: remove the copy a crash left: %w", err)
		}
	}
	old, err := Open(ctx, path, schema)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := copySealed(ctx, old, tmp, schema, s); err != nil {
		old.Close()
		return fmt.Errorf("convert: %w", err)
	}
	if err := old.Close(); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	// The copy leaves WAL mode, so that it is one self-contained file when
	// renamed: a WAL beside it would belong to the old database. The
	// original is left in WAL mode with its WAL checkpointed and gone, so
	// no frame of it can be replayed into the copy after the rename.
	if err := standalone(ctx, tmp); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := standalone(ctx, path); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// copySealed writes every row of old into a new encrypted database at tmp,
// in one transaction.
func copySealed(ctx context.Context, old *DB, tmp string, schema *model.Schema, s Sealer) error {
	// The original's write lock, held until the copy is complete.
	lock, err := old.w.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return mapErr(err)
	}
	defer func() { _, _ = lock.ExecContext(context.Background(), "ROLLBACK") }()

	nu, err := Open(ctx, tmp, schema, WithSealer(s))
	if err != nil {
		return err
	}
	defer nu.Close()
	return nu.tx(ctx, func(tx *sql.Tx) error {
		for _, step := range []func(context.Context, *sql.Conn, *sql.Tx) error{
			nu.copyRecords, nu.copyOutbox, nu.copyConflicts, nu.copyJournal, nu.copyGone, nu.copyMeta, nu.copyPlainTables,
		} {
			if err := step(ctx, lock, tx); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) copyRecords(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	// A record whose values are its journal entry's keeps the reference:
	// the journal is copied with its seqs, and its entries sealed at the
	// places openRecordEntry opens them.
	rows, err := from.QueryContext(ctx, `SELECT `+recordsSelect+`, resync_mark FROM records ORDER BY rid`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r recordRow
		var fields, base, entryAfter, entryPlace sql.NullString
		var mark int64
		if err := rows.Scan(&r.rid, &r.id, &r.collection, &r.matterID, &fields, &base, &r.version,
			&r.baseDeleted, &r.deleted, &r.state, &r.updatedAt, &entryAfter, &entryPlace, &mark); err != nil {
			return err
		}
		sealedBase := db.sealNullable(nullable(base), recordPlace("base_fields", r.collection, r.id))
		if base.Valid && base.String == baseSame {
			sealedBase = baseSame
		}
		var sealedFields any = fields.String
		if strings.HasPrefix(fields.String, entryRef) {
			if !entryAfter.Valid {
				return fmt.Errorf("record %s: %w", r.id, errNoRecordEntry)
			}
			fields = entryAfter
		} else {
			sealedFields = db.sealText(fields.String, recordPlace("fields", r.collection, r.id))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO records (`+recordCols+`, resync_mark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.rid, r.id, r.collection, r.matterID,
			sealedFields,
			sealedBase,
			r.version, r.baseDeleted, r.deleted, r.state, r.updatedAt, mark); err != nil {
			return err
		}
		if r.fields, err = decodeFields(fields); err != nil {
			return err
		}
		if err := db.index(ctx, tx, r.rid, r.collection, r.fields, r.deleted); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (db *DB) copyOutbox(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	// An op's fields_entry stays as it is: the journal is copied with its
	// seqs and each entry's after sealed at its place.
	rows, err := from.QueryContext(ctx, "SELECT "+opCols+", fields_entry, exported, imported FROM outbox ORDER BY seq")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var o opRow
		var fields, base sql.NullString
		var entry sql.NullInt64
		if err := rows.Scan(&o.seq, &o.OpID, &o.RecordID, &o.Collection, &o.Kind, &fields, &base, &o.BaseVersion,
			&o.state, &o.attempts, &o.lastError, &o.errorCode, &o.nextAttempt, &o.createdAt, &o.updatedAt,
			&o.sentSince, &o.attemptSince, &entry, &o.exported, &o.imported); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO outbox ("+opCols+", fields_entry, exported, imported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			o.seq, o.OpID, o.RecordID, o.Collection, o.Kind,
			db.sealNullable(nullable(fields), opPlace("fields", &o)), db.sealNullable(nullable(base), opPlace("base_values", &o)),
			o.BaseVersion, o.state, o.attempts, o.lastError, o.errorCode, o.nextAttempt, o.createdAt, o.updatedAt,
			o.sentSince, o.attemptSince, entry, o.exported, o.imported); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (db *DB) copyConflicts(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	rows, err := from.QueryContext(ctx, "SELECT "+conflictCols+" FROM conflicts")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c model.Conflict
		var fields string
		var mine, theirs sql.NullString
		var created, theirsAt int64
		var theirsBy string
		if err := rows.Scan(&c.RecordID, &c.Collection, &c.OpID, &c.Kind, &c.BaseVersion, &c.TheirsVersion,
			&fields, &mine, &theirs, &created, &theirsBy, &theirsAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conflicts (`+conflictCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.RecordID, c.Collection, c.OpID, c.Kind, c.BaseVersion, c.TheirsVersion,
			db.sealText(fields, conflictPlace("fields", &c)), db.sealNullable(nullable(mine), conflictPlace("mine", &c)),
			db.sealNullable(nullable(theirs), conflictPlace("theirs", &c)), created,
			db.sealText(theirsBy, conflictPlace("theirs_by", &c)), theirsAt); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (db *DB) copyJournal(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	rows, err := from.QueryContext(ctx, "SELECT seq, at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version FROM journal ORDER BY seq")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e JournalEntry
		var at int64
		var before, after sql.NullString
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Kind, &e.RecordID, &e.Collection, &e.OpID, &e.Summary, &before, &after, &e.Undoes, &e.Version); err != nil {
			return err
		}
		// An after that is another entry's (entryRef) stays the reference:
		// that entry is copied with its seq.
		sealedAfter := db.sealNullable(nullable(after), journalPlace("after", &e, at))
		if after.Valid && strings.HasPrefix(after.String, entryRef) {
			sealedAfter = after.String
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO journal (seq, at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, at, e.Actor, e.Kind, e.RecordID, e.Collection, e.OpID,
			db.sealText(e.Summary, journalPlace("summary", &e, at)), db.sealNullable(nullable(before), journalPlace("before", &e, at)),
			sealedAfter, e.Undoes, e.Version); err != nil {
			return err
		}
	}
	return rows.Err()
}

// copyGone copies the copies records left the device with, their fields
// sealed.
func (db *DB) copyGone(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	rows, err := from.QueryContext(ctx, "SELECT record_id, collection, version, out_of_sight, fields FROM gone_records")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, collection string
		var version, outOfSight int64
		var fields sql.NullString
		if err := rows.Scan(&id, &collection, &version, &outOfSight, &fields); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO gone_records (record_id, collection, version, out_of_sight, fields) VALUES (?, ?, ?, ?, ?)",
			id, collection, version, outOfSight, db.sealNullable(nullable(fields), gonePlace(collection, id))); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (db *DB) copyMeta(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	rows, err := from.QueryContext(ctx, "SELECT key, value FROM meta WHERE key != ?", metaKeyID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if err := setMeta(ctx, tx, k, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// plainTables hold nothing that needs sealing (ids, hashes, sizes,
// states, field names; see docs/security.md) and are copied as they are,
// after the outbox whose rows op_problems names. drop_imports' paths are
// hashed on the way.
var plainTables = []string{"local_files", "transfers", "transfer_chunks", "keep_offline", "drop_imports", "op_problems"}

func (db *DB) copyPlainTables(ctx context.Context, from *sql.Conn, tx *sql.Tx) error {
	for _, table := range plainTables {
		if err := db.copyPlainTable(ctx, from, tx, table); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
	}
	return nil
}

func (db *DB) copyPlainTable(ctx context.Context, from *sql.Conn, tx *sql.Tx, table string) error {
	rows, err := from.QueryContext(ctx, "SELECT * FROM "+table) // #nosec G202 -- a name from plainTables
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	insert := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")" // #nosec G202 -- table and column names come from the database's own schema; values are parameters
	for rows.Next() {
		vals, err := scanValues(rows, len(cols))
		if err != nil {
			return err
		}
		for i, c := range cols {
			if p, ok := vals[i].(string); ok && table == "drop_imports" && c == "path" {
				vals[i] = db.dropKey(p)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanValues reads the current row's n columns as they are stored.
func scanValues(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// nullable is a NullString as a value for sealNullable: nil for NULL.
func nullable(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

// standalone checkpoints the database at path completely and takes it out
// of WAL mode, leaving one self-contained file and no WAL beside it.
func standalone(ctx context.Context, path string) error {
	d, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return mapErr(err)
	}
	defer d.Close()
	d.SetMaxOpenConns(1)
	if _, err := d.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return mapErr(err)
	}
	if _, err := d.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return mapErr(err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- the database file being converted
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the data directory
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
