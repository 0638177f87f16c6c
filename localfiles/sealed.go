package localfiles

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/model"
)

// Sealer encrypts a store's bytes at rest; *vault.Keys is one. Seal binds
// a value to its place (ad): Open with another place fails.
type Sealer interface {
	Seal(plain, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// ErrTampered: a stored file failed its integrity check (altered, cut,
// or moved from another file) and was not decrypted.
var ErrTampered = errors.New("a stored file failed its integrity check (altered, cut or moved); it was not decrypted")

// A sealed file is laid out so that any chunk can be read or written at a
// fixed place, which a resumable download and an upload both need:
//
//	magic | file id (16 random bytes)
//	chunk 0 sealed | chunk 1 sealed | … (each model.ChunkSize + overhead, the last shorter)
//	footer: sealed (sha256 hex, size)
//
// Each chunk is bound to the file id and its index, so chunks cannot be
// reordered or spliced in from another file; the footer, bound to the
// file id, names the plaintext's hash and size, so a file cut short, grown,
// or renamed to pass for another is refused. A partial download has the
// header and its chunks but no footer until it is checked whole.
const (
	sealedMagic = "casefile-blob-v1\n"
	fileIDSize  = 16
	headerSize  = len(sealedMagic) + fileIDSize
	footerPlain = 64 + 8 // sha256 hex, size
)

// leftoverAge is how old a plaintext partial or import must be before
// the conversion deletes it: older than any import still writing its
// header.
const leftoverAge = time.Minute

// sealedLayout is the geometry of a Dir's sealed files.
type sealedLayout struct {
	s        Sealer
	overhead int // what sealing adds to a value
}

func newLayout(s Sealer) sealedLayout {
	return sealedLayout{s: s, overhead: len(s.Seal(nil, []byte("overhead")))}
}

func chunkAD(id []byte, n int) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("casefile file chunk v1|"), id...), uint64(n)) // #nosec G115 -- n >= 0
}

func footerAD(id []byte) []byte { return append([]byte("casefile file end v1|"), id...) }

// chunkOffset is where sealed chunk n starts.
func (l sealedLayout) chunkOffset(n int) int64 {
	return int64(headerSize) + int64(n)*int64(model.ChunkSize+l.overhead)
}

// footerOffset is where the footer of a file of size bytes starts.
func (l sealedLayout) footerOffset(size int64) int64 {
	return int64(headerSize) + size + int64(model.ChunkCount(size))*int64(l.overhead)
}

func (l sealedLayout) footerLen() int64 { return int64(footerPlain + l.overhead) }

func newHeader() ([]byte, []byte) {
	h := make([]byte, headerSize)
	copy(h, sealedMagic)
	// crypto/rand.Read never fails (it panics on a broken system).
	_, _ = rand.Read(h[len(sealedMagic):])
	return h, h[len(sealedMagic):]
}

// readHeader returns the file id of a sealed file.
func readHeader(f io.ReaderAt) ([]byte, error) {
	h := make([]byte, headerSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, ErrTampered
	}
	if string(h[:len(sealedMagic)]) != sealedMagic {
		return nil, ErrTampered
	}
	return h[len(sealedMagic):], nil
}

func (l sealedLayout) footer(id []byte, hash string, size int64) []byte {
	plain := binary.BigEndian.AppendUint64([]byte(hash), uint64(size)) // #nosec G115 -- sizes are >= 0
	return l.s.Seal(plain, footerAD(id))
}

// sealedFile is an open, complete sealed file whose footer checked out.
type sealedFile struct {
	l    sealedLayout
	f    *os.File
	id   []byte
	size int64
}

// openSealed opens the complete sealed file at p, which must hold hash.
func (l sealedLayout) open(p, hash string) (*sealedFile, error) {
	f, err := os.Open(p) // #nosec G304 -- a path built from a checked hash
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	sf, err := l.check(f, hash)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", hash, err)
	}
	return sf, nil
}

func (l sealedLayout) check(f *os.File, hash string) (*sealedFile, error) {
	id, err := readHeader(f)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	at := st.Size() - l.footerLen()
	if at < int64(headerSize) {
		return nil, ErrTampered
	}
	sealed := make([]byte, l.footerLen())
	if _, err := f.ReadAt(sealed, at); err != nil {
		return nil, ErrTampered
	}
	plain, err := l.s.Open(sealed, footerAD(id))
	if err != nil || len(plain) != footerPlain {
		return nil, ErrTampered
	}
	size := int64(binary.BigEndian.Uint64(plain[64:])) // #nosec G115 -- checked against the file's length below
	if string(plain[:64]) != hash || size < 0 || l.footerOffset(size) != at {
		return nil, ErrTampered
	}
	return &sealedFile{l: l, f: f, id: id, size: size}, nil
}

// chunk reads and opens chunk n of a file of size bytes.
func (l sealedLayout) chunk(f io.ReaderAt, id []byte, size int64, n int) ([]byte, error) {
	cl := model.ChunkLen(size, n)
	if cl < 0 {
		return nil, fmt.Errorf("read chunk %d: the file has %d chunks", n, model.ChunkCount(size))
	}
	sealed := make([]byte, cl+l.overhead)
	if _, err := f.ReadAt(sealed, l.chunkOffset(n)); err != nil {
		return nil, ErrTampered
	}
	plain, err := l.s.Open(sealed, chunkAD(id, n))
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

// sealedReader reads a complete sealed file's plaintext, chunk by chunk.
type sealedReader struct {
	sf  *sealedFile
	n   int
	buf []byte
}

func (r *sealedReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.n >= model.ChunkCount(r.sf.size) {
			return 0, io.EOF
		}
		b, err := r.sf.l.chunk(r.sf.f, r.sf.id, r.sf.size, r.n)
		if err != nil {
			return 0, err
		}
		r.buf, r.n = b, r.n+1
	}
	c := copy(p, r.buf)
	r.buf = r.buf[c:]
	return c, nil
}

func (r *sealedReader) Close() error { return r.sf.f.Close() }

// importSealed seals src into a new temporary file in dir while hashing
// it; the caller renames it into place.
func (l sealedLayout) importTo(dir string, src io.Reader) (tmpName, hash string, size int64, err error) {
	tmp, err := os.CreateTemp(dir, "import-*")
	if err != nil {
		return "", "", 0, err
	}
	defer func() {
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	hdr, id := newHeader()
	if _, err := tmp.Write(hdr); err != nil {
		return "", "", 0, err
	}
	h := sha256.New()
	buf := make([]byte, model.ChunkSize)
	for n := 0; ; n++ {
		k, rerr := io.ReadFull(src, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return "", "", 0, rerr
		}
		if k == 0 && n > 0 {
			break
		}
		h.Write(buf[:k])
		size += int64(k)
		if _, err := tmp.Write(l.s.Seal(buf[:k], chunkAD(id, n))); err != nil {
			return "", "", 0, err
		}
		if k < len(buf) {
			break
		}
	}
	hash = hex.EncodeToString(h.Sum(nil))
	if _, err := tmp.Write(l.footer(id, hash, size)); err != nil {
		return "", "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		return "", "", 0, err
	}
	return tmp.Name(), hash, size, nil
}

// writeChunk seals chunk n of a download into the partial file p,
// creating it with a fresh header the first time.
func (l sealedLayout) writeChunk(p, tmpDir string, n int, data []byte) error {
	if err := l.createPartial(p, tmpDir); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0o600) // #nosec G304 -- a path built from a checked hash
	if err != nil {
		return err
	}
	id, err := readHeaderOf(p)
	if err != nil {
		f.Close()
		return err
	}
	_, werr := f.WriteAt(l.s.Seal(data, chunkAD(id, n)), l.chunkOffset(n))
	return errors.Join(werr, f.Sync(), f.Close())
}

func readHeaderOf(p string) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- a path of the store
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(f)
}

// createPartial makes p with a new header unless it exists: the header is
// written to a temporary file and linked into place, so a partial file
// always has a whole header and two writers agree on one.
func (l sealedLayout) createPartial(p, tmpDir string) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(tmpDir, "partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	hdr, _ := newHeader()
	_, werr := tmp.Write(hdr)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), p); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// seal checks a partial download's chunks against hash and size and
// writes its footer; ErrHashMismatch when they differ.
func (l sealedLayout) seal(p, hash string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0o600) // #nosec G304 -- a path built from a checked hash
	if err != nil {
		return err
	}
	defer f.Close()
	id, err := readHeader(f)
	if err != nil {
		return ErrHashMismatch
	}
	h := sha256.New()
	for n := range model.ChunkCount(size) {
		b, err := l.chunk(f, id, size, n)
		if err != nil {
			return ErrHashMismatch
		}
		h.Write(b)
	}
	if hex.EncodeToString(h.Sum(nil)) != hash {
		return ErrHashMismatch
	}
	at := l.footerOffset(size)
	if err := f.Truncate(at); err != nil {
		return err
	}
	if _, err := f.WriteAt(l.footer(id, hash, size), at); err != nil {
		return err
	}
	return f.Sync()
}

// isSealed reports whether the file at p starts as a sealed file.
func isSealed(p string) (bool, error) {
	f, err := os.Open(p) // #nosec G304 -- a path of the store
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, len(sealedMagic))
	n, _ := io.ReadFull(f, b)
	return bytes.Equal(b[:n], []byte(sealedMagic)), nil
}

// sealPlaintext converts a store written before encryption: each complete
// file is sealed beside itself and renamed over the plaintext; partial
// downloads and leftover imports in plaintext are deleted (a download
// starts its file again). A crash leaves each file whole, old or new.
func (d *Dir) sealPlaintext() error {
	err := filepath.WalkDir(filepath.Join(d.root, "sha256"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !model.ValidSHA256(e.Name()) {
			return err
		}
		if ok, err := isSealed(p); err != nil || ok {
			return err
		}
		src, err := os.Open(p) // #nosec G304 -- a path of the store
		if err != nil {
			return err
		}
		tmp, _, _, err := d.l.importTo(filepath.Join(d.root, "tmp"), src)
		src.Close()
		if err != nil {
			return fmt.Errorf("encrypt %s: %w", e.Name(), err)
		}
		// A plaintext that had rotted on disk gets a footer naming the
		// hash of what was there, not its name, so reading it is refused.
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
		return syncDir(filepath.Dir(p))
	})
	if err != nil {
		return fmt.Errorf("encrypt the file store: %w", err)
	}
	for _, sub := range []string{"partial", "tmp"} {
		es, err := os.ReadDir(filepath.Join(d.root, sub))
		if err != nil {
			return err
		}
		for _, e := range es {
			p := filepath.Join(d.root, sub, e.Name())
			if e.IsDir() || (sub == "tmp" && !strings.HasPrefix(e.Name(), "import-")) {
				continue
			}
			// An import another process has just begun may not have its
			// header yet: leave young ones alone. (A partial download is
			// linked into place with its header, never without.)
			if info, err := e.Info(); sub == "tmp" && (err != nil || time.Since(info.ModTime()) < leftoverAge) {
				continue
			}
			if ok, err := isSealed(p); err == nil && !ok {
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
	}
	return nil
}
