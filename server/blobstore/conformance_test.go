package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/server/storetest"
)

// opened is a store under test, with a way to damage one stored chunk as
// a disk or an operator might.
type opened struct {
	st      Store
	corrupt func(t *testing.T, hash string, n int)
	// held counts the chunks the store keeps of a file's bytes.
	held   func(t *testing.T, hash string) int
	reopen func(t *testing.T) Store
}

func TestDirStore(t *testing.T) {
	runConformance(t, func(t *testing.T) opened {
		dir := t.TempDir()
		open := func(t *testing.T) Store {
			st, err := OpenDir(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return opened{st: open(t), reopen: open, held: func(t *testing.T, hash string) int {
			ents, err := os.ReadDir(filepath.Join(dir, "sha256", hash[:2], hash))
			if err != nil {
				t.Fatal(err)
			}
			return len(ents)
		}, corrupt: func(t *testing.T, hash string, n int) {
			p := filepath.Join(dir, "sha256", hash[:2], hash, strconv.Itoa(n))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}}
	})
}

func TestPostgresStore(t *testing.T) {
	runConformance(t, func(t *testing.T) opened {
		url := storetest.PostgresURL(t)
		open := func(t *testing.T) Store {
			st, err := OpenPostgres(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		st := open(t)
		return opened{st: st, reopen: open, held: func(t *testing.T, hash string) int {
			var n int
			if err := st.(*sqlStore).db.QueryRow(`SELECT count(*) FROM blob_data WHERE hash = $1`, hash).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}, corrupt: func(t *testing.T, hash string, n int) {
			db := st.(*sqlStore).db
			if _, err := db.Exec(`UPDATE blob_data SET data = $1 WHERE hash = $2 AND n = $3`, []byte("rot"), hash, n); err != nil {
				t.Fatal(err)
			}
		}}
	})
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// upload stages every chunk of data except those in skip.
func upload(t *testing.T, st Store, u Upload, data []byte, skip ...int) {
	t.Helper()
	size := int64(len(data))
	for n := range model.ChunkCount(size) {
		if containsInt(skip, n) {
			continue
		}
		off := int64(n) * model.ChunkSize
		c := data[off : off+int64(model.ChunkLen(size, n))]
		if err := st.PutChunk(context.Background(), u, n, hashOf(c), c); err != nil {
			t.Fatalf("put chunk %d: %v", n, err)
		}
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, st Store, hash string, size int64) []byte {
	t.Helper()
	var out []byte
	for n := range model.ChunkCount(size) {
		b, sum, err := st.Chunk(context.Background(), hash, n)
		if err != nil {
			t.Fatalf("chunk %d: %v", n, err)
		}
		if sum != hashOf(b) {
			t.Fatalf("chunk %d: sum %s does not match its bytes", n, sum)
		}
		out = append(out, b...)
	}
	return out
}

func runConformance(t *testing.T, open func(t *testing.T) opened) {
	ctx := context.Background()
	matter := model.NewID()

	t.Run("resumable upload, commit, read back, persist", func(t *testing.T) {
		o := open(t)
		data := randomBytes(t, 2*model.ChunkSize+123)
		u := Upload{ID: model.NewID(), User: "alice"}
		upload(t, o.st, u, data, 1)
		got, err := o.st.Staged(ctx, u.ID, int64(len(data)))
		if err != nil || len(got) != 2 || got[0] != 0 || got[1] != 2 {
			t.Fatalf("staged = %v, %v; want [0 2]", got, err)
		}
		p := Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(data), Size: int64(len(data)), User: "alice"}
		if err := o.st.Commit(ctx, u.ID, p); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("commit with a chunk missing: %v, want ErrIncomplete", err)
		}
		if use, _ := o.st.Usage(ctx, "alice"); use != int64(len(data))-model.ChunkSize {
			t.Errorf("usage while staged = %d, want the staged %d", use, len(data)-model.ChunkSize)
		}
		// Reopened (a server restart), the upload still holds its chunks.
		st := o.reopen(t)
		upload(t, st, u, data, 0, 2)
		if err := st.Commit(ctx, u.ID, p); err != nil {
			t.Fatalf("commit: %v", err)
		}
		if got, _ := st.Staged(ctx, u.ID, p.Size); len(got) != 0 {
			t.Errorf("a committed upload still holds %v", got)
		}
		if !bytes.Equal(readAll(t, st, p.Hash, p.Size), data) {
			t.Fatal("the bytes read back differ")
		}
		sums, err := st.Sums(ctx, p.Hash)
		if err != nil || len(sums) != 3 {
			t.Fatalf("sums = %v, %v", sums, err)
		}
		got2, err := st.Proof(ctx, u.ID)
		if err != nil || got2.Hash != p.Hash || got2.Size != p.Size || got2.User != "alice" || got2.MatterID != matter {
			t.Fatalf("proof = %+v, %v", got2, err)
		}
		if use, _ := st.Usage(ctx, "alice"); use != p.Size {
			t.Errorf("usage = %d, want %d", use, p.Size)
		}
		if ps, err := st.Provers(ctx, p.Hash, 10); err != nil || len(ps) != 1 || ps[0].RecordID != u.ID || ps[0].MatterID != matter || ps[0].Size != p.Size || ps[0].User != "alice" {
			t.Errorf("Provers of the file = %+v, %v; want its one proof", ps, err)
		}
		if ps, err := st.Provers(ctx, hashOf([]byte("absent")), 10); err != nil || len(ps) != 0 {
			t.Errorf("Provers of a file nobody proved = %+v, %v; want none", ps, err)
		}
	})

	t.Run("wrong bytes are refused and the upload emptied", func(t *testing.T) {
		o := open(t)
		data := randomBytes(t, 1000)
		u := Upload{ID: model.NewID(), User: "bob"}
		upload(t, o.st, u, data)
		err := o.st.Commit(ctx, u.ID, Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf([]byte("other")), Size: 1000, User: "bob"})
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("commit of the wrong bytes: %v, want ErrHashMismatch", err)
		}
		if got, _ := o.st.Staged(ctx, u.ID, 1000); len(got) != 0 {
			t.Errorf("a refused upload still holds %v", got)
		}
		if _, err := o.st.Proof(ctx, u.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a refused upload left a proof: %v", err)
		}
		// A chunk of the wrong length is not a whole upload.
		upload(t, o.st, u, data[:999])
		err = o.st.Commit(ctx, u.ID, Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(data), Size: 1000, User: "bob"})
		if !errors.Is(err, ErrIncomplete) {
			t.Fatalf("commit of a truncated chunk: %v, want ErrIncomplete", err)
		}
		if got, _ := o.st.Staged(ctx, u.ID, 1000); len(got) != 0 {
			t.Errorf("after a commit found it truncated, the upload still holds %v", got)
		}
	})

	t.Run("chunks staged at another size are dropped and sent again", func(t *testing.T) {
		// The attachment's size changed while its file was uploaded, and
		// back: chunk 2 was staged at another length, chunk 3 for a file
		// that had one. Listed as held, they would never be sent again
		// and the upload never finish.
		o := open(t)
		data := randomBytes(t, 2*model.ChunkSize+10)
		size := int64(len(data))
		u := Upload{ID: model.NewID(), User: "alice"}
		p := Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(data), Size: size, User: "alice"}
		stageWrong := func(st Store) {
			t.Helper()
			longer := append(append([]byte{}, data[2*model.ChunkSize:]...), 1, 2, 3)
			for n, b := range map[int][]byte{2: longer, 3: []byte("past the end")} {
				if err := st.PutChunk(ctx, u, n, hashOf(b), b); err != nil {
					t.Fatal(err)
				}
			}
		}
		upload(t, o.st, u, data, 1, 2)
		stageWrong(o.st)
		if got, err := o.st.Staged(ctx, u.ID, size); err != nil || !slices.Equal(got, []int{0}) {
			t.Fatalf("staged = %v, %v; want [0], the one chunk of the file's length", got, err)
		}
		if use, _ := o.st.Usage(ctx, "alice"); use != model.ChunkSize {
			t.Errorf("usage = %d; want the %d bytes of chunk 0 (the dropped ones count no more)", use, model.ChunkSize)
		}
		// Staged again with every chunk there, some wrong: a commit
		// drops the wrong ones and the upload lists what is still good.
		upload(t, o.st, u, data, 2)
		stageWrong(o.st)
		if err := o.st.Commit(ctx, u.ID, p); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("commit with chunk 2 of another length: %v, want ErrIncomplete", err)
		}
		if got, err := o.st.Staged(ctx, u.ID, size); err != nil || !slices.Equal(got, []int{0, 1}) {
			t.Fatalf("staged after the commit = %v, %v; want [0 1]", got, err)
		}
		// A chunk past the end of a file otherwise whole does not stop
		// its commit, and is not kept with the file.
		upload(t, o.st, u, data, 0, 1)
		if err := o.st.PutChunk(ctx, u, 3, hashOf([]byte("x")), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := o.st.Commit(ctx, u.ID, p); err != nil {
			t.Fatalf("commit once chunk 2 is sent again: %v", err)
		}
		if !bytes.Equal(readAll(t, o.st, p.Hash, size), data) {
			t.Fatal("the bytes read back differ")
		}
		if got := o.held(t, p.Hash); got != 3 {
			t.Errorf("the file is kept as %d chunks, want 3", got)
		}
		if use, _ := o.st.Usage(ctx, "alice"); use != size {
			t.Errorf("usage = %d, want the file's %d", use, size)
		}
	})

	t.Run("a commit leaves its arrival to be audited, kept past its proof", func(t *testing.T) {
		o := open(t)
		data := randomBytes(t, 300)
		u := Upload{ID: model.NewID(), User: "alice"}
		upload(t, o.st, u, data)
		at := time.Now().Add(-time.Hour).Truncate(time.Microsecond).UTC()
		p := Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(data), Size: int64(len(data)), User: "alice", At: at, Device: "laptop-7"}
		if err := o.st.Commit(ctx, u.ID, p); err != nil {
			t.Fatal(err)
		}
		if got, err := o.st.Arrivals(ctx, at, 10); err != nil || len(got) != 0 {
			t.Fatalf("arrivals before the commit's time: %+v, %v", got, err)
		}
		// The record deleted and its proof swept: the arrival still
		// happened, and is still to be audited.
		if _, err := o.st.Sweep(ctx, func(context.Context, string) (bool, error) { return false, nil }, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := o.st.Arrivals(ctx, time.Now(), 10)
		want := Proof{RecordID: u.ID, Hash: p.Hash, Size: p.Size, User: "alice", At: at, Device: "laptop-7"}
		if err != nil || len(got) != 1 || got[0] != want {
			t.Fatalf("arrivals = %+v, %v; want [%+v]", got, err, want)
		}
		if err := o.st.Arrived(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := o.st.Arrivals(ctx, time.Now(), 10); err != nil || len(got) != 0 {
			t.Fatalf("arrivals once audited: %+v, %v", got, err)
		}
	})

	t.Run("identical files are stored once", func(t *testing.T) {
		o := open(t)
		data := randomBytes(t, model.ChunkSize+5)
		for _, user := range []string{"alice", "bob"} {
			u := Upload{ID: model.NewID(), User: user}
			upload(t, o.st, u, data)
			if err := o.st.Commit(ctx, u.ID, Proof{RecordID: u.ID, MatterID: model.NewID(), Hash: hashOf(data), Size: int64(len(data)), User: user}); err != nil {
				t.Fatal(err)
			}
		}
		st, err := o.st.Stats(ctx)
		if err != nil || st.Files != 1 || st.Bytes != int64(len(data)) {
			t.Fatalf("stats = %+v, %v; want one file", st, err)
		}
		if ps, err := o.st.Provers(ctx, hashOf(data), 10); err != nil || len(ps) != 2 || ps[0].User+ps[1].User != "alicebob" && ps[0].User+ps[1].User != "bobalice" {
			t.Errorf("Provers of a file two records proved = %+v, %v; want both", ps, err)
		}
		if ps, err := o.st.Provers(ctx, hashOf(data), 1); err != nil || len(ps) != 1 {
			t.Errorf("Provers with a limit of 1 = %+v, %v; want one", ps, err)
		}
		// A second record of alice's naming the same file takes no more
		// of her quota: a file counts once.
		if err := o.st.AddProof(ctx, Proof{RecordID: model.NewID(), MatterID: matter, Hash: hashOf(data), Size: int64(len(data)), User: "alice"}); err != nil {
			t.Fatal(err)
		}
		if use, err := o.st.Usage(ctx, "alice"); err != nil || use != int64(len(data)) {
			t.Errorf("usage with two proofs of one file = %d, %v; want %d", use, err, len(data))
		}
		if err := o.st.AddProof(ctx, Proof{RecordID: model.NewID(), MatterID: matter, Hash: hashOf([]byte("absent")), Size: 6, User: "carol"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddProof of bytes the store lacks: %v, want ErrNotFound", err)
		}
	})

	t.Run("a damaged chunk is reported, never served", func(t *testing.T) {
		o := open(t)
		data := randomBytes(t, model.ChunkSize+77)
		u := Upload{ID: model.NewID(), User: "alice"}
		upload(t, o.st, u, data)
		if err := o.st.Commit(ctx, u.ID, Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(data), Size: int64(len(data)), User: "alice"}); err != nil {
			t.Fatal(err)
		}
		o.corrupt(t, hashOf(data), 1)
		if _, _, err := o.st.Chunk(ctx, hashOf(data), 1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("reading a damaged chunk: %v, want ErrCorrupt", err)
		}
		if _, _, err := o.st.Chunk(ctx, hashOf(data), 0); err != nil {
			t.Fatalf("an intact chunk of the same file: %v", err)
		}
		if _, _, err := o.st.Chunk(ctx, hashOf(data), 2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a chunk past the end: %v, want ErrNotFound", err)
		}
	})

	t.Run("sweep keeps what records use and drops the rest", func(t *testing.T) {
		o := open(t)
		kept, gone := randomBytes(t, 300), randomBytes(t, 400)
		keepID, goneID, shareID := model.NewID(), model.NewID(), model.NewID()
		for _, c := range []struct {
			id   string
			data []byte
		}{{keepID, kept}, {goneID, gone}, {shareID, kept}} {
			u := Upload{ID: c.id, User: "alice"}
			upload(t, o.st, u, c.data)
			if err := o.st.Commit(ctx, c.id, Proof{RecordID: c.id, MatterID: matter, Hash: hashOf(c.data), Size: int64(len(c.data)), User: "alice"}); err != nil {
				t.Fatal(err)
			}
		}
		stale := Upload{ID: model.NewID(), User: "bob"}
		upload(t, o.st, stale, randomBytes(t, 10))
		live := map[string]bool{keepID: true}
		st, err := o.st.Sweep(ctx, func(_ context.Context, id string) (bool, error) { return live[id], nil }, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Proofs != 2 || st.Files != 1 || st.Bytes != 400 || st.Uploads != 1 {
			t.Fatalf("sweep = %+v; want 2 proofs, the 400-byte file and the stale upload", st)
		}
		if !bytes.Equal(readAll(t, o.st, hashOf(kept), 300), kept) {
			t.Fatal("a file still used was damaged by the sweep")
		}
		if _, _, err := o.st.Chunk(ctx, hashOf(gone), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a swept file is still served: %v", err)
		}
		if got, _ := o.st.Staged(ctx, stale.ID, 10); len(got) != 0 {
			t.Errorf("a stale upload survived the sweep: %v", got)
		}
		if use, _ := o.st.Usage(ctx, "bob"); use != 0 {
			t.Errorf("bob's usage after the sweep = %d", use)
		}
	})

	t.Run("the quota holds for uploads sent at once", func(t *testing.T) {
		o := open(t)
		// alice holds one file of 1,000 bytes; her quota is 3,500. Ten
		// uploads of 1,000-byte files send their one chunk at once: two
		// fit, counted whole from their first chunk, and the rest are
		// refused with what she holds.
		held := Upload{ID: model.NewID(), User: "alice", Size: 1000, Quota: 3500}
		data := randomBytes(t, 1000)
		if err := o.st.PutChunk(ctx, held, 0, hashOf(data), data); err != nil {
			t.Fatal(err)
		}
		if err := o.st.Commit(ctx, held.ID, Proof{RecordID: held.ID, MatterID: matter, Hash: hashOf(data), Size: 1000, User: "alice"}); err != nil {
			t.Fatal(err)
		}
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := randomBytes(t, 1000)
				errs[i] = o.st.PutChunk(ctx, Upload{ID: model.NewID(), User: "alice", Size: 1000, Quota: 3500}, 0, hashOf(b), b)
			}()
		}
		wg.Wait()
		staged := 0
		for _, err := range errs {
			var qe *QuotaError
			switch {
			case err == nil:
				staged++
			case errors.As(err, &qe):
				if qe.Quota != 3500 || qe.Used < 3000 {
					t.Errorf("refused with %+v; want the quota and at least the 3,000 bytes held", qe)
				}
			default:
				t.Fatal(err)
			}
		}
		if staged != 2 {
			t.Fatalf("%d of %d uploads sent at once were staged; want the 2 the quota has room for", staged, n)
		}
		if use, _ := o.st.Usage(ctx, "alice"); use != 3000 {
			t.Errorf("usage = %d, want 3000", use)
		}
		// A later chunk of an upload already counted whole still fits;
		// without a quota nothing is refused.
		big := Upload{ID: model.NewID(), User: "bob", Size: model.ChunkSize + 10, Quota: model.ChunkSize + 10}
		data = randomBytes(t, model.ChunkSize+10)
		upload(t, o.st, big, data)
		if err := o.st.PutChunk(ctx, Upload{ID: model.NewID(), User: "bob"}, 0, hashOf(data[:10]), data[:10]); err != nil {
			t.Fatalf("an upload with no quota: %v", err)
		}
	})

	t.Run("an empty file", func(t *testing.T) {
		o := open(t)
		u := Upload{ID: model.NewID(), User: "alice"}
		if err := o.st.PutChunk(ctx, u, 0, hashOf(nil), nil); err != nil {
			t.Fatal(err)
		}
		if err := o.st.Commit(ctx, u.ID, Proof{RecordID: u.ID, MatterID: matter, Hash: hashOf(nil), Size: 0, User: "alice"}); err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, o.st, hashOf(nil), 0); len(b) != 0 {
			t.Fatalf("read %d bytes of an empty file", len(b))
		}
	})
}
