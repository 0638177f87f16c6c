package localfiles

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/model"
	"casefile/vault"
)

const phrase = "PRIVILEGED-canary-4417 settlement figure"

// canaryData is a file of more than two chunks that repeats phrase.
func canaryData() []byte {
	return []byte(strings.Repeat(phrase+"\n", 2*model.ChunkSize/len(phrase)+100))
}

// grepTree fails the test if any file under root holds needle.
func grepTree(t *testing.T, root string, needle []byte) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, needle) {
			t.Errorf("%s holds %q in plaintext", p, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no file to search")
	}
}

func sealedDir(t *testing.T, keys *vault.Keys) (*Dir, string) {
	t.Helper()
	root := t.TempDir()
	d, err := OpenDir(root, WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	return d, root
}

func TestSealedStoreHoldsNoPlaintext(t *testing.T) {
	keys, _ := vault.NewRandom()
	data := canaryData()
	d, root := sealedDir(t, keys)
	hash, size, err := d.Import(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// A download half done, and one whole.
	d2, root2 := sealedDir(t, keys)
	d3, root3 := sealedDir(t, keys)
	for n := range model.ChunkCount(size) {
		c, err := d.ReadChunk(hash, size, n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if err := d2.WriteChunk(hash, n, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := d3.WriteChunk(hash, n, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := d3.Seal(hash, size); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{root, root2, root3} {
		grepTree(t, r, []byte("canary-4417"))
		grepTree(t, r, []byte(hash)) // the content is not in there under its hash either
	}
	r, err := d3.Open(hash)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(back, data) {
		t.Fatal("the downloaded file reads back different")
	}
	// Another device's key opens nothing.
	other, _ := vault.NewRandom()
	d4, err := OpenDir(root3, WithSealer(other))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d4.Open(hash); !errors.Is(err, ErrTampered) {
		t.Fatalf("open with another key: %v", err)
	}
}

func TestSealedStoreRefusesTampering(t *testing.T) {
	keys, _ := vault.NewRandom()
	data := canaryData()
	d, _ := sealedDir(t, keys)
	hash, size, err := d.Import(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := d.path(hash)
	orig, _ := os.ReadFile(p)
	otherData := bytes.ToUpper(data)
	otherHash, _, err := d.Import(bytes.NewReader(otherData))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := d.path(otherHash)
	otherBytes, _ := os.ReadFile(q)
	cs := d.l.chunkOffset(1) - d.l.chunkOffset(0)
	cases := map[string][]byte{
		"a byte flipped in chunk 1": func() []byte {
			b := bytes.Clone(orig)
			b[d.l.chunkOffset(1)+100] ^= 1
			return b
		}(),
		"cut short":          orig[:len(orig)-500],
		"the footer dropped": orig[:d.l.footerOffset(size)],
		"chunks swapped": func() []byte {
			b := bytes.Clone(orig)
			c0 := bytes.Clone(b[d.l.chunkOffset(0) : d.l.chunkOffset(0)+cs])
			copy(b[d.l.chunkOffset(0):], b[d.l.chunkOffset(1):d.l.chunkOffset(1)+cs])
			copy(b[d.l.chunkOffset(1):], c0)
			return b
		}(),
		"a chunk from another file": func() []byte {
			b := bytes.Clone(orig)
			copy(b[d.l.chunkOffset(1):], otherBytes[d.l.chunkOffset(1):d.l.chunkOffset(1)+cs])
			return b
		}(),
		"another file renamed to this one": otherBytes,
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(p, orig, 0o600) //nolint:errcheck // restored for the next case
			_, rerr := d.ReadChunk(hash, size, 1)
			r, oerr := d.Open(hash)
			if oerr == nil {
				_, oerr = io.ReadAll(r)
				r.Close()
			}
			if !errors.Is(rerr, ErrTampered) || !errors.Is(oerr, ErrTampered) {
				t.Fatalf("read chunk: %v; read whole: %v; want both refused", rerr, oerr)
			}
		})
	}
}

func TestOpenConvertsPlaintextStore(t *testing.T) {
	root := t.TempDir()
	plain, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	data := canaryData()
	hash, size, err := plain.Import(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.WriteChunk(hash, 1, data[model.ChunkSize:2*model.ChunkSize]); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * leftoverAge)
	leftover := filepath.Join(root, "tmp", "import-1")
	if err := os.WriteFile(leftover, data[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatal(err)
	}
	keys, _ := vault.NewRandom()
	d, err := OpenDir(root, WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	grepTree(t, root, []byte("canary-4417"))
	if p, _ := d.Partials(); len(p) != 0 {
		t.Fatalf("a plaintext partial download is left: %v", p)
	}
	b, err := d.ReadChunk(hash, size, 2)
	if err != nil || !bytes.Equal(b, data[2*model.ChunkSize:]) {
		t.Fatalf("the converted file reads back %d bytes, %v", len(b), err)
	}
	// Opening again converts nothing more and still reads.
	if _, err := OpenDir(root, WithSealer(keys)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := d.Has(hash); !ok {
		t.Fatal("the converted file is gone")
	}
}
