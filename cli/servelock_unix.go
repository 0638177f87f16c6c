//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// serveLockName is the file a server holds locked in its data directory
// while it runs on the SQLite store there.
const serveLockName = "serve.lock"

// lockServeDir takes dir for this server alone: a second casefile serve on
// the same SQLite store would commit beside the first but poke only its
// own event streams, so neither's clients would hear of the other's
// changes. The lock goes when the process ends, however it ends.
func lockServeDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, serveLockName), os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- the server's own data directory
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil { // #nosec G115 -- a file descriptor
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, serveRunningError{dir}
		}
		return nil, fmt.Errorf("lock the data directory: %w", err)
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
