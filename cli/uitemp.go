package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/internal/leftover"
)

// The terminal UI hands plaintext files to other programs: copies of the
// files a person opens, the texts they edit in $EDITOR. They live in a
// directory of the UI's own outside the data directory (openingDir),
// removed when the UI ends; a UI killed (SIGKILL, a power cut, a closed
// SSH session's hard kill) leaves it. A live UI holds them for hours, so
// no age tells them from a dead one's: each UI holds a lock file in the
// data directory, locked for as long as it runs and naming its directory,
// and every command's sweep (sweepDataDir) removes the directory of a lock
// no process holds.

// uiLockPrefix and uiLockSuffix name a UI's lock file in the data
// directory: ui-N.lock, N chosen by os.CreateTemp.
const (
	uiLockPrefix = "ui-"
	uiLockSuffix = ".lock"
)

// openingPrefix names a UI's directory of plaintext files.
const openingPrefix = "casefile-open-"

// isUILock reports whether name is a UI's lock file.
func isUILock(name string) bool {
	stem, ok := strings.CutSuffix(name, uiLockSuffix)
	return ok && leftover.Made(stem, uiLockPrefix)
}

// holdOpeningDir makes the UI's directory of plaintext files under base
// and the lock file in dataDir that ties it to this process; release
// removes both. The lock is taken before the directory is named in the
// file, and a sweep leaves an unlocked lock file naming nothing alone for
// leftover.StaleAge: it may be a UI starting now.
func holdOpeningDir(dataDir, base string) (dir string, release func(), err error) {
	f, err := os.CreateTemp(dataDir, uiLockPrefix+"*"+uiLockSuffix)
	if err != nil {
		return "", nil, fmt.Errorf("make the UI's lock file: %w", err)
	}
	fail := func(err error) (string, func(), error) {
		f.Close()
		os.Remove(f.Name())
		return "", nil, err
	}
	if err := lockUI(f); err != nil {
		return fail(fmt.Errorf("lock the UI's lock file: %w", err))
	}
	dir, err = os.MkdirTemp(base, openingPrefix)
	if err != nil {
		return fail(fmt.Errorf("make a directory for opened files: %w", err))
	}
	if _, err := f.WriteString(dir + "\n"); err != nil {
		os.RemoveAll(dir)
		return fail(fmt.Errorf("write the UI's lock file: %w", err))
	}
	return dir, func() {
		_ = os.RemoveAll(dir)
		_ = os.Remove(f.Name())
		f.Close()
	}, nil
}

// sweepDeadUIs removes the directories of plaintext files that UIs no
// longer running left, with their lock files: every lock file in dataDir
// no process holds.
func sweepDeadUIs(dataDir string) error {
	es, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Type().IsRegular() && isUILock(e.Name()) {
			if err := sweepDeadUI(filepath.Join(dataDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepDeadUI removes the directory the lock file at path names, and the
// file, unless a process holds its lock.
func sweepDeadUI(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- a lock file of the data directory
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its UI ended meanwhile
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if free, err := tryLockUI(f); err != nil || !free {
		return err
	}
	// Held now: the file must still be the one at path (another sweep may
	// have removed it since it was opened).
	here, err1 := os.Stat(path)
	mine, err2 := f.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(here, mine) {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return err
	}
	dir := string(bytes.TrimSpace(b))
	if dir == "" && time.Since(mine.ModTime()) < leftover.StaleAge {
		return nil // a UI between making its lock file and locking it
	}
	if dir != "" {
		if err := removeOpeningDir(dir); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeOpeningDir removes dir if it is a UI's directory of plaintext
// files: an absolute path to a directory (not a link) named as openingDir
// names them. A lock file naming anything else is left to no removal.
func removeOpeningDir(dir string) error {
	if !filepath.IsAbs(dir) || !strings.HasPrefix(filepath.Base(dir), openingPrefix) {
		return nil
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !fi.IsDir() {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the opened files a UI no longer running left: %w", err)
	}
	return nil
}
