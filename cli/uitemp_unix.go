//go:build unix

package cli

import (
	"errors"
	"os"

	"casefile/internal/flock"
)

// lockUI takes a UI's lock file for as long as the process runs: the
// lock goes when the process ends, however it ends. It waits for a sweep
// that holds the file for a moment.
func lockUI(f *os.File) error { return flock.Lock(f, false, true) }

// tryLockUI takes a UI's lock file if no process holds it, and reports
// whether it did.
func tryLockUI(f *os.File) (bool, error) {
	err := flock.Lock(f, false, false)
	if errors.Is(err, flock.ErrHeld) {
		return false, nil
	}
	return err == nil, err
}
