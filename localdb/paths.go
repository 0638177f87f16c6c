package localdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// damagedInfix names the copies doctor --repair keeps of a damaged
// database: casefile.db.damaged-20260102-150405, with its -wal and -shm.
const damagedInfix = ".damaged-"

// fileMode is the mode of the database file. SQLite gives its -wal, -shm
// and -journal the main file's mode when it makes them, so the one file
// made private keeps them private too.
const fileMode fs.FileMode = 0o600

// sideSuffixes are the files SQLite keeps beside a database while it is
// open or after a crash.
var sideSuffixes = []string{"-wal", "-shm", "-journal"}

// DamagedPath is where a damaged database at path is kept aside, with the
// time it was found.
func DamagedPath(path string, now time.Time) string {
	return path + damagedInfix + now.UTC().Format("20060102-150405")
}

// Copies lists every file beside the database at path that holds, or held,
// its contents: the file, its WAL, shared memory and journal, a conversion
// copy an interrupted Convert left (with its own), and each damaged file
// doctor kept aside (with its WAL and salvage copies). Each is sealed with
// the data directory's key, readable by whoever has its passphrase:
// deleting the database means deleting all of them.
func Copies(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the copies of the database: %w", err)
	}
	var out []string
	for _, e := range entries {
		// A directory (a simulated device's file store is called
		// c1.db.files) is never a copy of the database.
		if e.IsDir() || !isCopyName(base, e.Name()) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}

// isCopyName reports whether name is one of the names Copies lists for
// the database called base.
func isCopyName(base, name string) bool {
	rest, ok := strings.CutPrefix(name, base)
	if !ok {
		return false
	}
	if rest == "" || strings.HasPrefix(rest, convertSuffix) || strings.HasPrefix(rest, damagedInfix) {
		return true
	}
	for _, s := range sideSuffixes {
		if rest == s {
			return true
		}
	}
	return false
}

// privateFile makes the database file at path readable and writable by
// its owner only before SQLite opens it: a new one is created 0600 (SQLite
// would create it 0644, and its WAL and shared memory after it), and an
// existing one and its side files lose the group's and others'
// permissions. A database copied in, or made by an older casefile in a
// directory someone else made, is then no longer readable by other users.
func privateFile(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode) // #nosec G304 -- the database's own path
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
		if perm := fi.Mode().Perm(); perm&^fileMode != 0 {
			if err := os.Chmod(p, perm&fileMode); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", p, err)
			}
		}
	}
	return nil
}

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
