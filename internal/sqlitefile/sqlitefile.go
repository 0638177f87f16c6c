// Package sqlitefile keeps a SQLite database's files on disk private: the
// database file and the files SQLite keeps beside it (its WAL, shared
// memory and rollback journal). The client's local database and the
// server's stores (server.db, the blob index) share it.
package sqlitefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Mode is the mode of a database file. SQLite gives its -wal, -shm and
// -journal the main file's mode when it makes them, so the one file made
// private keeps them private too.
const Mode fs.FileMode = 0o600

// sideSuffixes are the files SQLite keeps beside a database while it is
// open or after a crash.
var sideSuffixes = []string{"-wal", "-shm", "-journal"}

// SidePaths are the paths of the files SQLite keeps beside the database
// at path (its WAL, shared memory and rollback journal): whatever moves,
// removes or mends the database must treat them with it.
func SidePaths(path string) []string {
	out := make([]string, len(sideSuffixes))
	for i, s := range sideSuffixes {
		out[i] = path + s
	}
	return out
}

// Private makes the database file at path readable and writable by its
// owner only before SQLite opens it: a new one is created with Mode
// (SQLite would create it 0644 under the usual umask, and its WAL and
// shared memory after it), and an existing one and its side files lose
// the group's and others' permissions. A database copied in, or made by
// an older casefile in a directory someone else made (or one open to
// other users), is then no longer readable by other users.
func Private(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Mode) // #nosec G304 -- the database's own path
		if err != nil {
			// SQLite's own open says why (a missing directory, a
			// read-only disk), in the words callers map.
			return nil
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	for _, p := range append([]string{path}, SidePaths(path)...) {
		fi, err := os.Stat(p)
		if err != nil {
			continue // not there; or SQLite will say
		}
		// Only bits are taken away: a file its owner made read-only
		// stays read-only.
		if perm := fi.Mode().Perm(); perm&^Mode != 0 {
			if err := os.Chmod(p, perm&Mode); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", p, err)
			}
		}
	}
	return nil
}
