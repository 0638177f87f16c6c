package localdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A repair builds the new database beside the damaged one and swaps them
// only when the new one is whole, so that a kill at any moment leaves the
// damaged file in place (the repair runs again from it) or a complete
// new one that the next start puts in place (FinishRepair); never a
// directory without the queued changes.
const (
	// repairingSuffix names the new database while a repair builds it; a
	// kill leaves it incomplete, and the next repair starts it over.
	repairingSuffix = ".repairing"
	// repairedSuffix names the new database once it holds every
	// salvaged change and is on disk, self-contained, before it takes
	// the damaged one's place.
	repairedSuffix = ".repaired"
)

// RepairingPath is where a repair of the database at path builds the new one.
func RepairingPath(path string) string { return path + repairingSuffix }

// RepairedPath is where the new database of a repair waits, complete, to
// take the place of the database at path.
func RepairedPath(path string) string { return path + repairedSuffix }

// RemoveRepairing removes what an interrupted repair of the database at
// path left half built, with its side files.
func RemoveRepairing(path string) error {
	tmp := RepairingPath(path)
	for _, p := range append([]string{tmp}, SidePaths(tmp)...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the unfinished repair: %w", err)
		}
	}
	return nil
}

// CompleteRepairing turns the closed database a repair built at
// RepairingPath(path) into one self-contained file on disk and renames it
// to RepairedPath(path): from then on it is the database, and
// FinishRepair puts it in place.
func CompleteRepairing(ctx context.Context, path string) error {
	tmp := RepairingPath(path)
	// Out of WAL mode: the rename must carry everything in one file, and
	// a WAL left beside the damaged database must never be taken for its.
	if err := standalone(ctx, tmp); err != nil {
		return fmt.Errorf("complete the repaired database: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("complete the repaired database: %w", err)
	}
	if err := os.Rename(tmp, RepairedPath(path)); err != nil {
		return fmt.Errorf("complete the repaired database: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("complete the repaired database: %w", err)
	}
	return nil
}

// FinishRepair puts a complete repaired database in the place of the one
// at path, when a repair left one: the damaged database there (with its
// WAL, shared memory and journal) is moved aside to DamagedPath, named
// after the time the repaired one was completed so that a resumed move
// keeps them together, and the repaired one renamed to path. It returns
// where the damaged file was kept, or "" when there was no repair to
// finish. Every step may be cut and run again.
func FinishRepair(path string) (kept string, err error) {
	repaired := RepairedPath(path)
	fi, err := os.Stat(repaired)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("finish the repair: %w", err)
	}
	kept = DamagedPath(path, fi.ModTime())
	// The sides go too, before the repaired file takes the name: a WAL
	// of the damaged database left under the name would be replayed
	// into the new one.
	if err := MoveAside(path, kept); err != nil {
		return "", fmt.Errorf("finish the repair: keep the damaged database aside: %w", err)
	}
	if err := os.Rename(repaired, path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("finish the repair: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("finish the repair: %w", err)
	}
	return kept, nil
}

// MoveAside renames the database at path, if there, and its side files
// (which SQLite finds by the database's name) to aside's names.
func MoveAside(path, aside string) error {
	if err := os.Rename(path, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	to := SidePaths(aside)
	for i, from := range SidePaths(path) {
		if err := os.Rename(from, to[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// DamagedCopies lists the damaged databases earlier repairs kept aside
// beside the database at path (their main files, not their side files),
// newest first.
func DamagedCopies(path string) ([]string, error) {
	all, err := Copies(path)
	if err != nil {
		return nil, err
	}
	prefix := filepath.Base(path) + damagedInfix
	var out []string
	for _, p := range all {
		stamp, ok := strings.CutPrefix(filepath.Base(p), prefix)
		if _, err := time.Parse(damagedStamp, stamp); ok && err == nil {
			out = append(out, p)
		}
	}
	// Copies lists them by name, and the stamp sorts as the time.
	slices.Reverse(out)
	return out, nil
}
