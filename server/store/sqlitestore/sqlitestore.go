// Package sqlitestore is the server's embedded store: one SQLite file in
// WAL mode with a single writer connection and a small pool of readers.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"casefile/internal/sqlitefile"
	"casefile/internal/stmtcache"
	"casefile/server/store"
	"casefile/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file inside a server data directory.
const FileName = "server.db"

// Open opens (creating and migrating) the database file at path.
func Open(ctx context.Context, path string) (store.Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// A data directory made by hand may be open to other users (0755):
	// the file holds every matter and the hashes of every password.
	if err := sqlitefile.Private(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// busy_timeout first, so the other pragmas wait for a lock instead of
	// failing; synchronous FULL because an acknowledged op must survive a
	// power cut.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	// Both pools keep their prepared statements (stmtcache). The writer
	// keeps its temporary files in memory: a push applies each op in a
	// savepoint, whose journal of the pages it changes SQLite otherwise
	// moves to a temporary file past 64 KiB, with a write for each page
	// (docs/benchmarks.md, sixteenth round).
	w := stmtcache.Open("file:" + path + "?" + pragmas + "&_pragma=temp_store(MEMORY)&_txlock=immediate")
	w.SetMaxOpenConns(1) // SQLite has one writer; queue here rather than on SQLITE_BUSY
	r := stmtcache.Open("file:" + path + "?" + pragmas + "&_pragma=query_only(1)")
	r.SetMaxOpenConns(8)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := sqlstore.Migrate(ctx, w, sub, ""); err != nil {
		w.Close()
		r.Close()
		if sentence := openProblem(path, err); sentence != "" {
			return nil, &openError{sentence, err}
		}
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	d := sqlstore.Dialect{
		Name:        "sqlite",
		ReadTx:      &sql.TxOptions{ReadOnly: true},
		IsDuplicate: isDuplicate,
		NoIndex:     "+",
		Streams:     true,
		// A read costs CPU, not waiting: one lane per core of a small
		// server.
		ReadLanes: 2,
	}
	return sqlstore.New(w, r, d, "sqlite "+path), nil
}

// OpenReadOnly opens the database file at path to read only, as an
// auditor opens a copy or a file they may not write: nothing is created,
// migrated or written, and a database whose layout is older than this
// build's is refused in a sentence (opening it to write brings it up to
// date). Writes through the store fail.
func OpenReadOnly(ctx context.Context, path string) (store.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("the server database %s cannot be read: %w", path, errors.Unwrap(err))
	}
	// A server that has the file open keeps its write-ahead log beside
	// it, which a reader shares through its index (-shm). With no log the
	// file is whole and no server has it open: it is read as immutable,
	// which creates no log or index beside it (a reader in WAL mode would).
	mode := "mode=ro"
	if _, err := os.Stat(path + "-wal"); errors.Is(err, fs.ErrNotExist) {
		mode = "immutable=1"
	}
	r := stmtcache.Open("file:" + path + "?" + mode + "&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	r.SetMaxOpenConns(2)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	missing, err := sqlstore.Unapplied(ctx, r, sub)
	if err != nil {
		r.Close()
		if sentence := openProblem(path, err); sentence != "" {
			return nil, &openError{sentence, err}
		}
		return nil, fmt.Errorf("open %s to read: %w", path, err)
	}
	if len(missing) > 0 {
		r.Close()
		return nil, fmt.Errorf("the server database %s has an older layout than this casefile's (%d changes to apply); open it once with write access (casefile serve or another admin command) to bring it up to date", path, len(missing))
	}
	d := sqlstore.Dialect{Name: "sqlite", ReadTx: &sql.TxOptions{ReadOnly: true}, IsDuplicate: isDuplicate, NoIndex: "+", Streams: true, ReadLanes: 1}
	return sqlstore.New(r, r, d, "sqlite "+path+" (read only)"), nil
}

// Versions returns the migration numbers of this build's layout.
func Versions() ([]int64, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sqlstore.Versions(sub)
}

func isDuplicate(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// openProblem says in a sentence why the database file at path could not
// be opened and brought up to date, for the errors a person can act on;
// "" for any other.
func openProblem(path string, err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_READONLY:
		return fmt.Sprintf("the server database %s cannot be written by this user (the server and casefile admin write it, if only to bring its layout up to date)", path)
	case sqlite3.SQLITE_NOTADB:
		return fmt.Sprintf("%s is not a server database (not an SQLite file)", path)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Sprintf("the server database %s is damaged; restore it from a backup", path)
	case sqlite3.SQLITE_CANTOPEN:
		return fmt.Sprintf("the server database %s cannot be opened (check that its directory exists and may be written)", path)
	}
	return ""
}

// openError is a sentence for a person, with the database's own error
// kept beneath it for errors.Is and As.
type openError struct {
	sentence string
	err      error
}

func (e *openError) Error() string { return e.sentence }
func (e *openError) Unwrap() error { return e.err }
