// Package localfiles is a device's store of attached files' bytes:
// content-addressed by SHA-256 under the data directory, with partial
// downloads written chunk by chunk and made complete once the whole file
// checks out. With a Sealer (the data key) every byte is encrypted at
// rest, chunk by chunk, partial downloads and imports included.
package localfiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/internal/leftover"
	"casefile/model"
)

// Errors of a Store, checked with errors.Is.
var (
	ErrNotFound     = errors.New("file not on this device")
	ErrHashMismatch = errors.New("file bytes do not match their sha256")
)

// Store keeps file bytes by hash.
type Store interface {
	// Import copies src into the store and returns its hash and size.
	Import(src io.Reader) (hash string, size int64, err error)
	// Open reads a complete file.
	Open(hash string) (io.ReadCloser, error)
	// Has reports whether a complete file is held.
	Has(hash string) (bool, error)
	// ReadChunk reads chunk n of a complete file of size bytes.
	ReadChunk(hash string, size int64, n int) ([]byte, error)
	// WriteChunk writes chunk n of a file being downloaded, durably.
	WriteChunk(hash string, n int, data []byte) error
	// Seal checks a download's bytes against hash and makes it a
	// complete file; ErrHashMismatch (and the partial file is dropped)
	// when they differ.
	Seal(hash string, size int64) error
	// Remove deletes a file, complete or partial.
	Remove(hash string) error
	// Partials lists the hashes of partial downloads.
	Partials() ([]string, error)
}

// Dir is a Store in a directory: complete files at sha256/ab/HASH,
// partial downloads at partial/HASH, imports in tmp/. The name is the
// plaintext's SHA-256 whether or not the bytes are sealed: the local
// database keeps the same hashes in the clear (see docs/security.md).
type Dir struct {
	root string
	l    sealedLayout // l.s is nil: plaintext
}

// Option changes how OpenDir opens a store.
type Option func(*Dir)

// WithSealer encrypts the store's bytes with s. A store holding plaintext
// files is converted when opened.
func WithSealer(s Sealer) Option { return func(d *Dir) { d.l = newLayout(s) } }

// Encrypted reports whether the store seals its bytes.
func (d *Dir) Encrypted() bool { return d.l.s != nil }

// DirName is the store's directory inside a data directory.
const DirName = "files"

// OpenDir opens (creating) a directory store.
func OpenDir(root string, opts ...Option) (*Dir, error) {
	for _, sub := range []string{"sha256", "partial", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			return nil, fmt.Errorf("open file store: %w", err)
		}
	}
	d := &Dir{root: root}
	for _, o := range opts {
		o(d)
	}
	if err := d.removeStale(); err != nil {
		return nil, fmt.Errorf("open file store: %w", err)
	}
	if d.Encrypted() {
		if err := d.sealPlaintext(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// staleAge is how long a file in tmp/ must have gone unwritten before
// opening the store deletes it. An import writes its file as it reads the
// source, chunk by chunk, and a partial's header is linked into place at
// once, so a file untouched this long was left by a process killed in the
// middle (kill -9, a power cut), not one still copying in another process.
const staleAge = time.Hour

// removeStale deletes what killed imports left in tmp/: nothing ever
// finishes them, and a sealed one is as big as the file it copied.
func (d *Dir) removeStale() error {
	return leftover.Sweep(filepath.Join(d.root, "tmp"), func(string) bool { return true }, staleAge)
}

func (d *Dir) path(hash string) (string, error) {
	if !model.ValidSHA256(hash) {
		return "", fmt.Errorf("%q is not a sha256", hash)
	}
	return filepath.Join(d.root, "sha256", hash[:2], hash), nil
}

func (d *Dir) partial(hash string) (string, error) {
	if !model.ValidSHA256(hash) {
		return "", fmt.Errorf("%q is not a sha256", hash)
	}
	return filepath.Join(d.root, "partial", hash), nil
}

// Import copies src to a temporary file while hashing it, syncs it and
// renames it into place; identical bytes are stored once.
func (d *Dir) Import(src io.Reader) (string, int64, error) {
	if d.Encrypted() {
		tmp, hash, size, err := d.l.importTo(filepath.Join(d.root, "tmp"), src)
		if err == nil {
			err = d.place(tmp, hash)
			os.Remove(tmp)
		}
		if err != nil {
			return "", 0, fmt.Errorf("import: %w", err)
		}
		return hash, size, nil
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "import-*")
	if err != nil {
		return "", 0, fmt.Errorf("import: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("import: %w", err)
	}
	hash := hex.EncodeToString(h.Sum(nil))
	if err := d.place(tmp.Name(), hash); err != nil {
		return "", 0, fmt.Errorf("import: %w", err)
	}
	return hash, size, nil
}

// place renames a verified file to its hash's path.
func (d *Dir) place(from, hash string) error {
	dst, err := d.path(hash)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Rename(from, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func syncDir(dir string) error {
	f, err := os.Open(dir) // #nosec G304 -- a directory of the store
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Open reads a complete file.
func (d *Dir) Open(hash string) (io.ReadCloser, error) {
	p, err := d.path(hash)
	if err != nil {
		return nil, err
	}
	if d.Encrypted() {
		sf, err := d.l.open(p, hash)
		if err != nil {
			return nil, err
		}
		return &sealedReader{sf: sf}, nil
	}
	f, err := os.Open(p) // #nosec G304 -- a path built from a checked hash
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Has reports whether a complete file is held.
func (d *Dir) Has(hash string) (bool, error) {
	p, err := d.path(hash)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ReadChunk reads chunk n of a complete file.
func (d *Dir) ReadChunk(hash string, size int64, n int) ([]byte, error) {
	l := model.ChunkLen(size, n)
	if l < 0 {
		return nil, fmt.Errorf("read chunk %d: the file has %d chunks", n, model.ChunkCount(size))
	}
	if d.Encrypted() {
		p, err := d.path(hash)
		if err != nil {
			return nil, err
		}
		sf, err := d.l.open(p, hash)
		if err != nil {
			return nil, err
		}
		defer sf.f.Close()
		if sf.size != size {
			return nil, fmt.Errorf("read chunk %d: the stored file has %d bytes, not %d", n, sf.size, size)
		}
		b, err := d.l.chunk(sf.f, sf.id, size, n)
		if err != nil {
			return nil, fmt.Errorf("read chunk %d of %s: %w", n, hash, err)
		}
		return b, nil
	}
	r, err := d.Open(hash)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, l)
	if _, err := r.(*os.File).ReadAt(b, int64(n)*model.ChunkSize); err != nil && !(errors.Is(err, io.EOF) && l == 0) {
		return nil, fmt.Errorf("read chunk %d: %w", n, err)
	}
	return b, nil
}

// WriteChunk writes chunk n of a download at its place and syncs it.
func (d *Dir) WriteChunk(hash string, n int, data []byte) error {
	p, err := d.partial(hash)
	if err != nil {
		return err
	}
	if d.Encrypted() {
		if err := d.l.writeChunk(p, filepath.Join(d.root, "tmp"), n, data); err != nil {
			return fmt.Errorf("write chunk %d: %w", n, err)
		}
		return nil
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- a path built from a checked hash
	if err != nil {
		return fmt.Errorf("write chunk %d: %w", n, err)
	}
	_, werr := f.WriteAt(data, int64(n)*model.ChunkSize)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return fmt.Errorf("write chunk %d: %w", n, err)
	}
	return nil
}

// Seal checks a download whole and moves it into place.
func (d *Dir) Seal(hash string, size int64) error {
	p, err := d.partial(hash)
	if err != nil {
		return err
	}
	if d.Encrypted() {
		if size == 0 {
			// An empty file is one empty chunk, which may never have
			// been written.
			if err := d.l.writeChunk(p, filepath.Join(d.root, "tmp"), 0, nil); err != nil {
				return fmt.Errorf("seal: %w", err)
			}
		}
		err := d.l.seal(p, hash, size)
		if errors.Is(err, ErrHashMismatch) || errors.Is(err, fs.ErrNotExist) {
			os.Remove(p)
			return ErrHashMismatch
		}
		if err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		return d.place(p, hash)
	}
	if size == 0 {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return err
		}
	}
	f, err := os.Open(p) // #nosec G304 -- a path built from a checked hash
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != hash {
		os.Remove(p)
		return ErrHashMismatch
	}
	return d.place(p, hash)
}

// Remove deletes a file, complete or partial.
func (d *Dir) Remove(hash string) error {
	p, err := d.path(hash)
	if err != nil {
		return err
	}
	q, _ := d.partial(hash)
	for _, x := range []string{p, q} {
		if err := os.Remove(x); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Partials lists partial downloads.
func (d *Dir) Partials() ([]string, error) {
	es, err := os.ReadDir(filepath.Join(d.root, "partial"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if model.ValidSHA256(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
