// Package leftover finds and removes the temporary files of writes that
// never finished.
//
// Casefile writes a file by writing a temporary one beside it and renaming
// it into place. A deferred os.Remove cleans up after a write that fails,
// but SIGKILL or a power cut runs no deferred call: the temporary file
// stays, and some hold a key, a token or a plaintext export. Each writer
// names its temporary files by a pattern of its own, and the next command
// sweeps the ones no live process is still writing.
package leftover

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StaleAge is how long a temporary file must have gone unwritten before a
// sweep takes it for a killed write's. Every writer writes its file
// without pausing and renames it at once, so one untouched for a minute
// belongs to no live process; a younger one may be another casefile's,
// writing right now.
const StaleAge = time.Minute

// Made reports whether name is one os.CreateTemp makes of the pattern
// prefix+"*": the prefix and a random decimal number.
func Made(name, prefix string) bool {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Sweep removes the regular files in dir whose names match and which went
// unwritten for minAge (0: all of them). A dir that does not exist holds
// nothing to remove.
func Sweep(dir string, match func(name string) bool, minAge time.Duration) error {
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	now := time.Now()
	for _, e := range es {
		if !e.Type().IsRegular() || !match(e.Name()) {
			continue
		}
		if minAge > 0 {
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // its write finished meanwhile
			}
			if err != nil {
				return err
			}
			if now.Sub(info.ModTime()) < minAge {
				continue
			}
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
