package localdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"casefile/internal/sqlitefile"
)

// damagedInfix names the copies doctor --repair keeps of a damaged
// database: casefile.db.damaged-20260102-150405, with its -wal and -shm.
const damagedInfix = ".damaged-"

// damagedStamp is the layout of the time in a damaged copy's name.
const damagedStamp = "20060102-150405"

// DamagedPath is where a damaged database at path is kept aside, with the
// time it was found.
func DamagedPath(path string, now time.Time) string {
	return path + damagedInfix + now.UTC().Format(damagedStamp)
}

// Copies lists every file beside the database at path that holds, or held,
// its contents: the file, its WAL, shared memory and journal, a conversion
// copy an interrupted Convert left (with its own), each damaged file
// doctor kept aside (with its WAL and salvage copies), and the new
// database a repair builds or left complete beside it. Each is sealed with
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
	if rest == "" {
		return true
	}
	for _, p := range []string{convertSuffix, damagedInfix, repairingSuffix, repairedSuffix, salvageSuffix} {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return slices.Contains(sqlitefile.SidePaths(base), name)
}

// SidePaths are the paths of the files SQLite keeps beside the database
// at path (its WAL, shared memory and rollback journal): whatever moves,
// removes or mends the database must treat them with it.
func SidePaths(path string) []string { return sqlitefile.SidePaths(path) }
