package localfiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"

	"pgregory.net/rapid"

	"casefile/model"
	"casefile/vault"
)

// The store's contents as a model: complete files by hash, and partial
// downloads with, per chunk written, whether its last write was sound.
type storeModel struct {
	files    map[string][]byte
	partials map[string]map[int]bool
}

// blob is one of the files the histories move: sizes around the chunk
// boundaries, the empty file among them.
type blob struct {
	data []byte
	hash string
}

func blobs() []blob {
	var out []blob
	for i, n := range []int{0, 1, model.ChunkSize, model.ChunkSize + 5, 2*model.ChunkSize + 3} {
		d := bytes.Repeat([]byte{byte('a' + i)}, n)
		for j := 0; j < n; j += 4093 {
			d[j] = byte(j / 4093) // no two chunks alike
		}
		s := sha256.Sum256(d)
		out = append(out, blob{d, hex.EncodeToString(s[:])})
	}
	return out
}

// raceChecks is how many histories TestStoreModelProperty runs under the
// race detector; without it, rapid's default (100, or -rapid.checks).
const raceChecks = 5

// setRapidChecks sets rapid's history count for this test and puts the
// old value back after it.
func setRapidChecks(t *testing.T, n int) {
	t.Helper()
	f := flag.Lookup("rapid.checks")
	if f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// TestStoreModelProperty runs random histories of imports, chunked
// downloads (in any order, some chunks damaged and written again), seals,
// removals and reopenings against a plaintext and a sealed store, and
// checks after every step that what the store holds, reads and lists is
// what the model says.
func TestStoreModelProperty(t *testing.T) {
	pool := blobs()
	keys, err := vault.NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	base := memDir(t)
	if raceEnabled {
		// One history hashes and seals megabytes; under the race detector
		// that is minutes for nothing it could find (the store is used from
		// one goroutine here): a few histories check the harness still runs.
		setRapidChecks(t, raceChecks)
	}
	rapid.Check(t, func(rt *rapid.T) {
		root, err := os.MkdirTemp(base, "store")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(root)
		var opts []Option
		if rapid.Bool().Draw(rt, "sealed") {
			opts = append(opts, WithSealer(keys))
		}
		open := func() *Dir {
			d, err := OpenDir(root, opts...)
			if err != nil {
				rt.Fatal(err)
			}
			return d
		}
		d := open()
		m := storeModel{files: map[string][]byte{}, partials: map[string]map[int]bool{}}
		pick := func() blob { return pool[rapid.IntRange(0, len(pool)-1).Draw(rt, "file")] }
		rt.Repeat(map[string]func(*rapid.T){
			"Import": func(rt *rapid.T) {
				b := pick()
				h, n, err := d.Import(bytes.NewReader(b.data))
				if err != nil || h != b.hash || n != int64(len(b.data)) {
					rt.Fatalf("import: %s %d %v", h, n, err)
				}
				m.files[b.hash] = b.data
			},
			"WriteChunk": func(rt *rapid.T) {
				b := pick()
				size := int64(len(b.data))
				n := rapid.IntRange(0, model.ChunkCount(size)-1).Draw(rt, "n")
				c := bytes.Clone(b.data[int64(n)*model.ChunkSize : int64(n)*model.ChunkSize+int64(model.ChunkLen(size, n))])
				sound := len(c) == 0 || !rapid.Bool().Draw(rt, "damaged")
				if !sound {
					c[rapid.IntRange(0, len(c)-1).Draw(rt, "at")] ^= 0x40
				}
				if err := d.WriteChunk(b.hash, n, c); err != nil {
					rt.Fatalf("write chunk %d: %v", n, err)
				}
				if m.partials[b.hash] == nil {
					m.partials[b.hash] = map[int]bool{}
				}
				m.partials[b.hash][n] = sound
			},
			"Seal": func(rt *rapid.T) {
				b := pick()
				size := int64(len(b.data))
				p, had := m.partials[b.hash]
				whole := size == 0
				if had {
					whole = true
					for n := range model.ChunkCount(size) {
						whole = whole && (p[n] || size == 0)
					}
				}
				err := d.Seal(b.hash, size)
				delete(m.partials, b.hash)
				if whole {
					if err != nil {
						rt.Fatalf("seal of a whole download: %v", err)
					}
					m.files[b.hash] = b.data
					return
				}
				if err == nil {
					rt.Fatal("a download missing or damaging chunks was sealed")
				}
				if had && !errors.Is(err, ErrHashMismatch) {
					rt.Fatalf("seal of a damaged download: %v, want ErrHashMismatch", err)
				}
			},
			"Remove": func(rt *rapid.T) {
				b := pick()
				if err := d.Remove(b.hash); err != nil {
					rt.Fatal(err)
				}
				delete(m.files, b.hash)
				delete(m.partials, b.hash)
			},
			"Reopen": func(*rapid.T) { d = open() },
			"": func(rt *rapid.T) {
				for _, b := range pool {
					want, ok := m.files[b.hash]
					if has, err := d.Has(b.hash); err != nil || has != ok {
						rt.Fatalf("Has(%s) = %v, %v; want %v", b.hash[:8], has, err, ok)
					}
					r, err := d.Open(b.hash)
					if !ok {
						if !errors.Is(err, ErrNotFound) {
							rt.Fatalf("Open of a file not held: %v", err)
						}
						continue
					}
					if err != nil {
						rt.Fatal(err)
					}
					got, err := io.ReadAll(r)
					r.Close()
					if err != nil || !bytes.Equal(got, want) {
						rt.Fatalf("Open(%s) read %d bytes, %v; want %d", b.hash[:8], len(got), err, len(want))
					}
					size := int64(len(want))
					n := model.ChunkCount(size) - 1
					if c, err := d.ReadChunk(b.hash, size, n); err != nil || !bytes.Equal(c, want[int64(n)*model.ChunkSize:]) {
						rt.Fatalf("ReadChunk(%s, %d): %d bytes, %v", b.hash[:8], n, len(c), err)
					}
				}
				parts, err := d.Partials()
				if err != nil {
					rt.Fatal(err)
				}
				var want []string
				for h := range m.partials {
					want = append(want, h)
				}
				slices.Sort(parts)
				slices.Sort(want)
				if !slices.Equal(parts, want) {
					rt.Fatalf("partials %v, want %v", parts, want)
				}
			},
		})
	})
}

// memDir is a directory in memory when the machine has one (/dev/shm): the
// histories sync every chunk, which on a disk is most of their time.
func memDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "casefile-files-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
