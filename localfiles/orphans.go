package localfiles

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"casefile/model"
)

// OrphanAge is how long a complete file no database row names must have
// been in the store before SweepOrphans takes it for one a killed attach
// or import left. Such a write places the file first and commits the row
// naming it next; in between it waits for the database's writer, which
// another process holds at most the busy timeout (10 s) and this one for
// as long as its own writes queue. The store's rule for its temporary
// files (staleAge) is far beyond that wait: a younger file may be an
// attach in another process that has not committed yet.
const OrphanAge = staleAge

// keptSuffix names, beside the store's directory, the list of the files a
// revocation's wipe kept.
const keptSuffix = ".kept"

// KeptPath is the list of the files kept by a revocation's wipe of the
// store at root: files attached on the device and never uploaded, which
// its export names and no later database does. It lies beside the store
// (in the data directory), not in it, so that a wipe's deletion of the
// store's other files passes it by.
func KeptPath(root string) string { return filepath.Clean(root) + keptSuffix }

// ReadKept returns the hashes KeptPath(root) lists (none when there is no
// list).
func ReadKept(root string) (map[string]bool, error) {
	b, err := os.ReadFile(KeptPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the files a wipe kept: %w", err)
	}
	kept := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		h := strings.TrimSpace(sc.Text())
		if h == "" {
			continue
		}
		if !model.ValidSHA256(h) {
			return nil, fmt.Errorf("read the files a wipe kept: %s holds %q, not a sha256", KeptPath(root), h)
		}
		kept[h] = true
	}
	return kept, sc.Err()
}

// EncodeKept is the text of a kept list naming hashes: one a line, sorted.
func EncodeKept(hashes map[string]bool) []byte {
	var lines []string
	for h := range hashes {
		lines = append(lines, h+"\n")
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, ""))
}

// SweepOrphans removes the complete files that a killed attach, import or
// download left with no database row naming them: files in the store
// OrphanAge old, which no wipe kept (KeptPath) and which unnamed, given
// the hashes of the others, returns as named by nothing. unnamed is
// asked once, with every candidate. It returns how many files went.
//
// A file is taken away by a rename into tmp/ and its age checked again
// there: an attach of the same bytes in another process may have
// renamed a new copy over the old one after it was listed, and that
// copy, young, is put back.
func (d *Dir) SweepOrphans(unnamed func(hashes []string) ([]string, error)) (int, error) {
	held, err := d.complete()
	if err != nil {
		return 0, fmt.Errorf("sweep orphaned files: %w", err)
	}
	if len(held) == 0 {
		return 0, nil
	}
	kept, err := ReadKept(d.root)
	if err != nil {
		return 0, err
	}
	held = slices.DeleteFunc(held, func(h string) bool { return kept[h] })
	if len(held) == 0 {
		return 0, nil
	}
	orphans, err := unnamed(held)
	if err != nil {
		return 0, fmt.Errorf("sweep orphaned files: %w", err)
	}
	n := 0
	for _, h := range orphans {
		gone, err := d.removeOrphan(h, time.Now())
		if err != nil {
			return n, fmt.Errorf("sweep orphaned files: %w", err)
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// complete lists the hashes of the store's complete files.
func (d *Dir) complete() ([]string, error) {
	top := filepath.Join(d.root, "sha256")
	subs, err := os.ReadDir(top)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range subs {
		if !s.IsDir() {
			continue
		}
		es, err := os.ReadDir(filepath.Join(top, s.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Type().IsRegular() && model.ValidSHA256(e.Name()) && strings.HasPrefix(e.Name(), s.Name()) {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}

// removeOrphan removes the complete file of hash if it is OrphanAge old
// at now, and reports whether it did.
func (d *Dir) removeOrphan(hash string, now time.Time) (bool, error) {
	p, err := d.path(hash)
	if err != nil {
		return false, err
	}
	if fi, err := os.Lstat(p); err != nil || now.Sub(fi.ModTime()) < OrphanAge {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	aside, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "orphan-*")
	if err != nil {
		return false, err
	}
	aside.Close()
	if err := os.Rename(p, aside.Name()); err != nil {
		os.Remove(aside.Name())
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	fi, err := os.Lstat(aside.Name())
	if err == nil && now.Sub(fi.ModTime()) < OrphanAge {
		// An attach placed these bytes anew since the check above: they
		// go back (unless it placed them again meanwhile).
		if err := os.Link(aside.Name(), p); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		return false, os.Remove(aside.Name())
	}
	if err := os.Remove(aside.Name()); err != nil {
		return false, err
	}
	return true, nil
}
