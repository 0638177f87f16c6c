package localfiles

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"casefile/model"
	"casefile/vault"
)

// modes runs a test over a plaintext store and an encrypted one.
func modes(t *testing.T, run func(t *testing.T, open func(dir string) *Dir)) {
	keys, err := vault.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		opts []Option
	}{{"plain", nil}, {"sealed", []Option{WithSealer(keys)}}} {
		t.Run(m.name, func(t *testing.T) {
			run(t, func(dir string) *Dir {
				d, err := OpenDir(dir, m.opts...)
				if err != nil {
					t.Fatal(err)
				}
				return d
			})
		})
	}
}

func TestImportChunksSealRemove(t *testing.T) {
	modes(t, testImportChunksSealRemove)
}

func testImportChunksSealRemove(t *testing.T, open func(string) *Dir) {
	d := open(t.TempDir())
	data := make([]byte, 2*model.ChunkSize+7)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	hash, size, err := d.Import(bytes.NewReader(data))
	if err != nil || hash != want || size != int64(len(data)) {
		t.Fatalf("import = %s, %d, %v", hash, size, err)
	}
	// The same bytes again are one file.
	if h2, _, err := d.Import(bytes.NewReader(data)); err != nil || h2 != hash {
		t.Fatalf("second import = %s, %v", h2, err)
	}
	var back []byte
	for n := range model.ChunkCount(size) {
		c, err := d.ReadChunk(hash, size, n)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, c...)
	}
	if !bytes.Equal(back, data) {
		t.Fatal("chunks read back differ")
	}

	// A download written out of order seals; a damaged one does not.
	other := t.TempDir()
	d2 := open(other)
	for _, n := range []int{2, 0, 1} {
		off := n * model.ChunkSize
		if err := d2.WriteChunk(hash, n, data[off:off+model.ChunkLen(size, n)]); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := d2.Partials(); len(p) != 1 || p[0] != hash {
		t.Fatalf("partials = %v", p)
	}
	if err := d2.Seal(hash, size); err != nil {
		t.Fatalf("seal: %v", err)
	}
	r, err := d2.Open(hash)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("sealed bytes differ")
	}
	if err := d2.Remove(hash); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, data[:model.ChunkSize]...)
	bad[9] ^= 1
	_ = d2.WriteChunk(hash, 0, bad)
	_ = d2.WriteChunk(hash, 1, data[model.ChunkSize:2*model.ChunkSize])
	_ = d2.WriteChunk(hash, 2, data[2*model.ChunkSize:])
	if err := d2.Seal(hash, size); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("seal of damaged bytes: %v", err)
	}
	if ok, _ := d2.Has(hash); ok {
		t.Fatal("damaged bytes became a file")
	}
	if p, _ := d2.Partials(); len(p) != 0 {
		t.Fatalf("a refused download left %v", p)
	}
	if _, err := d2.Open(hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open of a removed file: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyFile(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Dir) {
		d := open(t.TempDir())
		hash, size, err := d.Import(bytes.NewReader(nil))
		if err != nil || size != 0 {
			t.Fatalf("import = %d, %v", size, err)
		}
		if c, err := d.ReadChunk(hash, 0, 0); err != nil || len(c) != 0 {
			t.Fatalf("chunk 0 = %q, %v", c, err)
		}
		d2 := open(t.TempDir())
		if err := d2.Seal(hash, 0); err != nil {
			t.Fatalf("seal of an empty download: %v", err)
		}
		r, err := d2.Open(hash)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
			t.Fatalf("read = %q, %v", b, err)
		}
	})
}

// TestOpenRemovesStaleLeftovers: what an import killed in the middle left
// in tmp/ (a sealed one as big as its file) is deleted when the store
// opens; a young file, an import another process is still writing, is
// left alone. Before, leftovers stayed for good.
func TestOpenRemovesStaleLeftovers(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Dir) {
		root := t.TempDir()
		open(root)
		tmp := filepath.Join(root, "tmp")
		old := time.Now().Add(-2 * staleAge)
		for _, name := range []string{"import-111", "partial-222"} {
			p := filepath.Join(tmp, name)
			if err := os.WriteFile(p, bytes.Repeat([]byte(sealedMagic), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		young := filepath.Join(tmp, "import-333")
		if err := os.WriteFile(young, []byte(sealedMagic+"half a header"), 0o600); err != nil {
			t.Fatal(err)
		}
		open(root)
		es, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, e := range es {
			left = append(left, e.Name())
		}
		if !slices.Equal(left, []string{"import-333"}) {
			t.Fatalf("tmp/ holds %q after opening; want only the import still being written", left)
		}
	})
}
