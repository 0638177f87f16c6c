//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"casefile/internal/flock"
)

// serveLockName is the file a server holds locked in its data directory
// while it runs on the SQLite store there.
const serveLockName = "serve.lock"

// lockServeDir takes dir for this server alone: a second casefile serve on
// the same SQLite store would commit beside the first but poke only its
// own event streams, so neither's clients would hear of the other's
// changes. The lock goes when the process ends, however it ends.
func lockServeDir(dir string) (release func(), err error) {
	release, err = lockIn(dir, serveLockName, syscall.LOCK_EX)
	if errors.Is(err, flock.ErrHeld) {
		return nil, serveRunningError{dir}
	}
	return release, err
}

// moveLockName is the file a move holds locked, alone, while it copies a
// directory's store, and admin commands hold shared while they use it:
// they run beside a server by design, so the serve lock does not keep
// them off, and a write of theirs during a move would be left behind.
const moveLockName = "move.lock"

// lockMoveDir takes dir's move lock, alone for a move, shared for an
// admin command; either is refused while the other holds it.
func lockMoveDir(dir string, alone bool) (release func(), err error) {
	how := syscall.LOCK_SH
	if alone {
		how = syscall.LOCK_EX
	}
	release, err = lockIn(dir, moveLockName, how)
	if errors.Is(err, flock.ErrHeld) {
		if alone {
			return nil, fmt.Errorf("a casefile admin command is using %s: let it end, then move again (nothing was changed)", dir)
		}
		return nil, fmt.Errorf("%s is being moved to PostgreSQL (casefile admin move-to): let the move end; after it, run admin commands with --database (nothing was changed)", dir)
	}
	return release, err
}

// lockIn takes the flock how on the file name in dir, creating both as
// needed; the lock goes when the process ends, however it ends.
func lockIn(dir, name string, how int) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- the server's own data directory
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	if err := flock.Lock(f, how == syscall.LOCK_SH, false); err != nil {
		f.Close()
		if errors.Is(err, flock.ErrHeld) {
			return nil, err
		}
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	return func() { f.Close() }, nil
}

// waitLockIn takes the exclusive flock on the file name in dir, creating
// both as needed, waiting while another holds it; the lock goes when
// release is called or the process ends, however it ends.
func waitLockIn(dir, name string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- a lock file of the data directory
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := flock.Lock(f, false, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// serveRunningError is lockServeDir's refusal of a directory a running
// server holds.
type serveRunningError struct{ dir string }

func (e serveRunningError) Error() string {
	return fmt.Sprintf("another casefile serve is running on %s; two servers on one SQLite store would not hear of each other's changes. Stop it first, or run several servers on PostgreSQL (--database)", e.dir)
}

func (serveRunningError) Is(target error) bool { return target == errServeRunning }
