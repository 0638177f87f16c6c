package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/servertest"
)

// fileCall sends one request to a file route and returns status, body and
// the chunk-sum header.
func fileCall(t *testing.T, c *servertest.Client, method, path, id string, n int, body []byte, sum string) (int, []byte, string) {
	t.Helper()
	q := url.Values{"id": {id}}
	if n >= 0 {
		q.Set("n", strconv.Itoa(n))
	}
	req, err := http.NewRequest(method, c.URL+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if sum != "" {
		req.Header.Set(protocol.HeaderChunkSHA256, sum)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get(protocol.HeaderChunkSHA256)
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func chunkOf(data []byte, n int) []byte {
	off := n * model.ChunkSize
	return data[off : off+model.ChunkLen(int64(len(data)), n)]
}

// attach pushes an attachment record for data to matter and returns its id.
func attach(t *testing.T, c *servertest.Client, matterID string, data []byte) string {
	t.Helper()
	a := model.Attachment{MatterID: matterID, RecordID: matterID, Name: "exhibit.bin", Size: int64(len(data)), SHA256: sumOf(data)}
	res := c.PushOne(t, servertest.Create(model.AttachmentCollection, a.Fields()))
	if res.Result != model.ResultApplied {
		t.Fatalf("push attachment: %+v", res)
	}
	return res.Record.ID
}

func upload(t *testing.T, c *servertest.Client, id string, data []byte, chunks ...int) protocol.UploadStatus {
	t.Helper()
	var st protocol.UploadStatus
	for _, n := range chunks {
		b := chunkOf(data, n)
		code, body, _ := fileCall(t, c, http.MethodPut, protocol.PathFileChunk, id, n, b, sumOf(b))
		if code != http.StatusOK {
			t.Fatalf("put chunk %d: %d %s", n, code, body)
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFilesSQLite(t *testing.T)   { testFiles(t, startSQLite) }
func TestFilesPostgres(t *testing.T) { testFiles(t, startPostgres) }

func testFiles(t *testing.T, start starter) {
	w := newWorld(t, start, func(o *server.Options) { o.UserQuotaBytes = 5 * model.ChunkSize; o.MaxFileBytes = 4 * model.ChunkSize })
	data := randomData(t, 2*model.ChunkSize+10)
	id := attach(t, w.alice, w.m.ID, data)

	// Before any chunk: the upload holds nothing, the file cannot be read.
	code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, "")
	var st protocol.UploadStatus
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Have) != 0 || st.Complete || st.Size != int64(len(data)) {
		t.Fatalf("upload status: %d %s", code, body)
	}
	if code, body, _ := fileCall(t, w.bob, http.MethodGet, protocol.PathFile, id, -1, nil, ""); code != http.StatusConflict || !bytes.Contains(body, []byte(protocol.CodeNotUploaded)) {
		t.Fatalf("manifest before upload: %d %s", code, body)
	}

	// A chunk with the wrong sum, a truncated one and one of another
	// length are refused and nothing is held.
	c0 := chunkOf(data, 0)
	bad := append([]byte{}, c0...)
	bad[7] ^= 1
	for name, req := range map[string]struct {
		body []byte
		sum  string
	}{"corrupted": {bad, sumOf(c0)}, "truncated": {c0[:1000], sumOf(c0)}, "truncated, own sum": {c0[:1000], sumOf(c0[:1000])}} {
		code, body, _ := fileCall(t, w.alice, http.MethodPut, protocol.PathFileChunk, id, 0, req.body, req.sum)
		if code != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(protocol.CodeChunkMismatch)) {
			t.Fatalf("%s chunk: %d %s", name, code, body)
		}
	}
	// Upload chunk 2 and 0, then resume: the server names what it holds.
	upload(t, w.alice, id, data, 2, 0)
	_, body, _ = fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, "")
	if err := json.Unmarshal(body, &st); err != nil || len(st.Have) != 2 || st.Have[0] != 0 || st.Have[1] != 2 {
		t.Fatalf("resumed status: %s", body)
	}
	if st = upload(t, w.alice, id, data, 1); !st.Complete {
		t.Fatalf("after the last chunk: %+v", st)
	}

	// Bob (a member) downloads the same bytes, every chunk verified.
	code, body, _ = fileCall(t, w.bob, http.MethodGet, protocol.PathFile, id, -1, nil, "")
	var man protocol.FileManifest
	if code != http.StatusOK || json.Unmarshal(body, &man) != nil || man.SHA256 != sumOf(data) || len(man.Chunks) != 3 {
		t.Fatalf("manifest: %d %s", code, body)
	}
	var got []byte
	for n := range man.Chunks {
		code, b, sum := fileCall(t, w.bob, http.MethodGet, protocol.PathFileChunk, id, n, nil, "")
		if code != http.StatusOK || sum != man.Chunks[n] || sumOf(b) != sum {
			t.Fatalf("chunk %d: %d, sum %s", n, code, sum)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}

	// Dave (no access) learns nothing: every route answers exactly as for
	// an id that does not exist. So does a deleted attachment.
	unknown := model.NewID()
	for _, route := range []struct {
		method, path string
		n            int
	}{{http.MethodGet, protocol.PathFile, -1}, {http.MethodGet, protocol.PathFileChunk, 0},
		{http.MethodGet, protocol.PathFileUpload, -1}, {http.MethodPut, protocol.PathFileChunk, 0}} {
		c1, b1, h1 := fileCall(t, w.dave, route.method, route.path, id, route.n, c0, sumOf(c0))
		c2, b2, h2 := fileCall(t, w.dave, route.method, route.path, unknown, route.n, c0, sumOf(c0))
		if c1 != http.StatusNotFound || c1 != c2 || !bytes.Equal(b1, b2) || h1 != h2 {
			t.Fatalf("%s %s: no access %d %s, unknown %d %s", route.method, route.path, c1, b1, c2, b2)
		}
	}
	// Carol (a viewer) may download but not upload.
	if code, _, _ := fileCall(t, w.carol, http.MethodGet, protocol.PathFileChunk, id, 1, nil, ""); code != http.StatusOK {
		t.Fatalf("viewer download: %d", code)
	}
	id2 := attach(t, w.alice, w.m.ID, randomData(t, 10))
	if code, body, _ := fileCall(t, w.carol, http.MethodGet, protocol.PathFileUpload, id2, -1, nil, ""); code != http.StatusForbidden {
		t.Fatalf("viewer upload: %d %s", code, body)
	}

	// A second attachment of the same bytes in the same matter is
	// complete at once; in another matter it must be uploaded again.
	same := attach(t, w.bob, w.m.ID, data)
	_, body, _ = fileCall(t, w.bob, http.MethodGet, protocol.PathFileUpload, same, -1, nil, "")
	if json.Unmarshal(body, &st) != nil || !st.Complete {
		t.Fatalf("same bytes, same matter: %s", body)
	}
	other := attach(t, w.alice, w.p.ID, data)
	_, body, _ = fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, other, -1, nil, "")
	if json.Unmarshal(body, &st) != nil || st.Complete || len(st.Have) != 0 {
		t.Fatalf("same bytes, other matter: %s", body)
	}

	// Limits: a file over the per-file limit, and one past the quota
	// (alice holds 2 MiB + 10 bytes of her 5 MiB).
	big := model.Attachment{MatterID: w.m.ID, RecordID: w.m.ID, Name: "big", Size: 5 * model.ChunkSize, SHA256: sumOf(nil)}
	bigID := w.alice.PushOne(t, servertest.Create(model.AttachmentCollection, big.Fields())).Record.ID
	if code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, bigID, -1, nil, ""); code != http.StatusRequestEntityTooLarge ||
		!bytes.Contains(body, []byte(protocol.CodeFileTooLarge)) {
		t.Fatalf("file over the limit: %d %s", code, body)
	}
	big.Size = 4 * model.ChunkSize
	bigID = w.alice.PushOne(t, servertest.Create(model.AttachmentCollection, big.Fields())).Record.ID
	if code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, bigID, -1, nil, ""); code != http.StatusInsufficientStorage ||
		!bytes.Contains(body, []byte(protocol.CodeQuotaExceeded)) {
		t.Fatalf("file past the quota: %d %s", code, body)
	}

	// Bytes that are not the file the record names are refused whole.
	liar := attach(t, w.alice, w.m.ID, randomData(t, 100))
	other100 := randomData(t, 100)
	code, body, _ = fileCall(t, w.alice, http.MethodPut, protocol.PathFileChunk, liar, 0, other100, sumOf(other100))
	if code != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(protocol.CodeHashMismatch)) {
		t.Fatalf("wrong file: %d %s", code, body)
	}

	// Deleting the record hides the file at once; its bytes stay until the
	// tombstone is compacted.
	rec := w.alice.PushOne(t, servertest.Create(model.AttachmentCollection, model.Attachment{MatterID: w.m.ID, RecordID: w.m.ID, Name: "x", Size: int64(len(data)), SHA256: sumOf(data)}.Fields())).Record
	w.alice.PushOne(t, servertest.Delete(rec))
	c1, b1, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFile, rec.ID, -1, nil, "")
	c2, b2, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFile, unknown, -1, nil, "")
	if c1 != http.StatusNotFound || c1 != c2 || !bytes.Equal(b1, b2) {
		t.Fatalf("deleted attachment: %d %s", c1, b1)
	}
	_ = context.Background()
}

func TestFilesKeptUntilTombstoneCompactedSQLite(t *testing.T) {
	testFilesKeptUntilCompacted(t, startSQLite)
}
func TestFilesKeptUntilTombstoneCompactedPostgres(t *testing.T) {
	testFilesKeptUntilCompacted(t, startPostgres)
}

func testFilesKeptUntilCompacted(t *testing.T, start starter) {
	ctx := context.Background()
	var blobs blobstore.Store
	w := newWorld(t, start, func(o *server.Options) {
		var err error
		if o.DatabaseURL != "" {
			blobs, err = blobstore.OpenPostgres(ctx, o.DatabaseURL)
		} else {
			blobs, err = blobstore.OpenDir(ctx, filepath.Join(t.TempDir(), blobstore.DirName))
		}
		if err != nil {
			t.Fatal(err)
		}
		o.Blobs = blobs // the server closes it
	})
	data := randomData(t, 1000)
	id := attach(t, w.alice, w.m.ID, data)
	upload(t, w.alice, id, data, 0)
	rec := w.alice.PushOne(t, servertest.Update(&protocol.Record{ID: id, Collection: model.AttachmentCollection, Version: 1}, model.Fields{"name": "renamed"})).Record
	w.alice.PushOne(t, servertest.Delete(rec))

	held := func() bool {
		st, err := blobs.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Files == 1 && st.Bytes == int64(len(data))
	}
	if _, err := w.srv.Compact(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !held() {
		t.Fatal("a deleted record's file was dropped before its tombstone was compacted")
	}
	// A deleted attachment proves nothing to the matter's members: the
	// bytes are held, yet a new attachment naming them must be uploaded.
	again := attach(t, w.bob, w.m.ID, data)
	_, body, _ := fileCall(t, w.bob, http.MethodGet, protocol.PathFileUpload, again, -1, nil, "")
	var st protocol.UploadStatus
	if err := json.Unmarshal(body, &st); err != nil || st.Complete {
		t.Fatalf("upload status of a deleted attachment's file named again: %s", body)
	}
	w.bob.PushOne(t, servertest.Delete(&protocol.Record{ID: again, Collection: model.AttachmentCollection, Version: 1}))
	if _, err := w.srv.Compact(ctx, time.Now().Add(server.DefaultRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if held() {
		t.Fatal("the file of a compacted tombstone is still held")
	}
}

func TestFileProofsFollowRecordsSQLite(t *testing.T)   { testFileProofsFollowRecords(t, startSQLite) }
func TestFileProofsFollowRecordsPostgres(t *testing.T) { testFileProofsFollowRecords(t, startPostgres) }

// testFileProofsFollowRecords: a file counts as already in a matter only
// while an attachment that lives there now, not deleted, names it and
// has its bytes. Bob, who sees the shared matter only, knows the hashes
// of files that left it (moved to alice's private matter, or deleted)
// and names them in attachments of his own: he must upload the bytes,
// never read them. Reading files costs the reader no quota.
func testFileProofsFollowRecords(t *testing.T, start starter) {
	w := newWorld(t, start, func(o *server.Options) { o.UserQuotaBytes = 5 * model.ChunkSize })
	uploaded := func(c *servertest.Client, matter string, data []byte) *protocol.Record {
		t.Helper()
		a := model.Attachment{MatterID: matter, RecordID: matter, Name: "exhibit.bin", Size: int64(len(data)), SHA256: sumOf(data)}
		rec := c.PushOne(t, servertest.Create(model.AttachmentCollection, a.Fields())).Record
		if st := upload(t, c, rec.ID, data, 0); !st.Complete {
			t.Fatalf("upload: %+v", st)
		}
		return rec
	}
	moveTo := func(rec *protocol.Record, matter string) {
		t.Helper()
		res := w.alice.PushOne(t, servertest.Update(rec, model.Fields{model.MatterField: matter, model.AttachRecordField: matter}))
		if res.Result != model.ResultApplied || res.Record.MatterID != matter {
			t.Fatalf("move: %+v", res)
		}
	}
	readable := func(c *servertest.Client, id string, data []byte) bool {
		t.Helper()
		code, body, _ := fileCall(t, c, http.MethodGet, protocol.PathFileChunk, id, 0, nil, "")
		switch {
		case code == http.StatusOK && bytes.Equal(body, data):
			return true
		case code == http.StatusConflict && bytes.Contains(body, []byte(protocol.CodeNotUploaded)):
			return false
		}
		t.Fatalf("chunk of %s: %d %s", id, code, body)
		return false
	}

	moved, deleted, stays, movedIn := randomData(t, 300), randomData(t, 301), randomData(t, 302), randomData(t, 303)
	moveTo(uploaded(w.alice, w.m.ID, moved), w.p.ID)
	del := uploaded(w.alice, w.m.ID, deleted)
	w.alice.PushOne(t, servertest.Delete(del))
	uploaded(w.alice, w.m.ID, stays)
	moveTo(uploaded(w.alice, w.p.ID, movedIn), w.m.ID)

	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{{"a file moved out of the matter", moved, false}, {"a deleted attachment's file", deleted, false},
		{"a file attached in the matter", stays, true}, {"a file moved into the matter", movedIn, true}} {
		id := attach(t, w.bob, w.m.ID, c.data)
		code, body, _ := fileCall(t, w.bob, http.MethodGet, protocol.PathFileUpload, id, -1, nil, "")
		var st protocol.UploadStatus
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Complete != c.want {
			t.Errorf("%s, named by bob: upload status %d %s, want complete %v", c.name, code, body, c.want)
		}
		if got := readable(w.bob, id, c.data); got != c.want {
			t.Errorf("%s, named by bob: readable %v, want %v", c.name, got, c.want)
		}
		if !c.want {
			// Bob has the bytes after all: his own upload makes it his.
			if st := upload(t, w.bob, id, c.data, 0); !st.Complete || !readable(w.bob, id, c.data) {
				t.Errorf("%s: bob's own upload did not make it readable (%+v)", c.name, st)
			}
		}
	}

	// Alice attaches one 2 MiB file three more times; carol and bob read
	// every copy. Their quota (5 MiB) pays nothing for it: bob can still
	// upload a file of 4 MiB.
	big := randomData(t, 2*model.ChunkSize)
	first := attach(t, w.alice, w.m.ID, big)
	upload(t, w.alice, first, big, 0, 1)
	for range 3 {
		id := attach(t, w.alice, w.m.ID, big)
		for _, reader := range []*servertest.Client{w.bob, w.carol} {
			if code, body, _ := fileCall(t, reader, http.MethodGet, protocol.PathFile, id, -1, nil, ""); code != http.StatusOK {
				t.Fatalf("manifest of a copy: %d %s", code, body)
			}
		}
	}
	mine := randomData(t, 4*model.ChunkSize)
	id := attach(t, w.bob, w.m.ID, mine)
	if code, body, _ := fileCall(t, w.bob, http.MethodGet, protocol.PathFileUpload, id, -1, nil, ""); code != http.StatusOK {
		t.Fatalf("bob's upload after reading others' files: %d %s", code, body)
	}
	// Nor does alice's: the four records name one file, counted once
	// (with the small files above, ~2 MiB of her 5): a 2 MiB file more fits.
	more := randomData(t, 2*model.ChunkSize)
	id = attach(t, w.alice, w.m.ID, more)
	if code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, ""); code != http.StatusOK {
		t.Fatalf("alice's upload after her file was attached four times: %d %s", code, body)
	}
}

// TestQuotaRefusalIsNotAnError: an upload past the quota is the user's
// condition; answered 507, it is not logged as the server's failure, so
// uploads past it cannot fill the error log.
func TestQuotaRefusalIsNotAnError(t *testing.T) {
	var log servertest.SyncBuffer
	w := newWorld(t, startSQLite, func(o *server.Options) {
		o.UserQuotaBytes = model.ChunkSize
		o.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	id := attach(t, w.alice, w.m.ID, randomData(t, 2*model.ChunkSize))
	for range 3 {
		if code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, ""); code != http.StatusInsufficientStorage {
			t.Fatalf("upload past the quota: %d %s", code, body)
		}
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("a quota refusal was logged as an error:\n%s", log.String())
	}
}

func TestQuotaHoldsForUploadsAtOnceSQLite(t *testing.T) { testQuotaAtOnce(t, startSQLite) }
func TestQuotaHoldsForUploadsAtOncePostgres(t *testing.T) {
	testQuotaAtOnce(t, startPostgres)
}

// testQuotaAtOnce: ten 1 MiB files whose one chunk is sent at once, by a
// user with room for two: two are stored, the others refused 507.
func testQuotaAtOnce(t *testing.T, start starter) {
	w := newWorld(t, start, func(o *server.Options) { o.UserQuotaBytes = 2*model.ChunkSize + 100 })
	const n = 10
	files := make([][]byte, n)
	ids := make([]string, n)
	for i := range n {
		files[i] = randomData(t, model.ChunkSize)
		ids[i] = attach(t, w.alice, w.m.ID, files[i])
	}
	codes := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := url.Values{"id": {ids[i]}, "n": {"0"}}
			req, err := http.NewRequest(http.MethodPut, w.alice.URL+protocol.PathFileChunk+"?"+q.Encode(), bytes.NewReader(files[i]))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+w.alice.Token)
			req.Header.Set(protocol.HeaderChunkSHA256, sumOf(files[i]))
			resp, err := w.alice.HTTP.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			stored++
		case http.StatusInsufficientStorage:
		default:
			t.Fatalf("an upload answered %d", c)
		}
	}
	if stored != 2 {
		t.Fatalf("%d of %d uploads sent at once were stored (%v); the quota has room for 2", stored, n, codes)
	}
}

func TestUploadAfterSizeChangeSQLite(t *testing.T)   { testUploadAfterSizeChange(t, startSQLite) }
func TestUploadAfterSizeChangePostgres(t *testing.T) { testUploadAfterSizeChange(t, startPostgres) }

// testUploadAfterSizeChange: an attachment's size and sha256 are fixed
// now, but a server's records may hold sizes changed before they were,
// while a file was being uploaded, so that chunks staged under the other
// size no longer fit. Each case stages chunks under a wrong size, puts
// the size back, and then a client that sends exactly the chunks the
// status does not list (as transfer does) must finish the upload, and the
// file be read back.
func testUploadAfterSizeChange(t *testing.T, start starter) {
	for _, c := range []struct {
		name  string
		size  int // the file's
		wrong int // the size the record names meanwhile
		// chunks staged before the size changes, and under the wrong size
		early, late []int
	}{
		{"the last chunk staged longer", model.ChunkSize + 10, model.ChunkSize + 20, nil, []int{1}},
		{"the last chunk staged shorter", model.ChunkSize + 10, model.ChunkSize + 5, nil, []int{1}},
		{"a full chunk staged as the last", 2 * model.ChunkSize, model.ChunkSize + 7, nil, []int{1}},
		{"a chunk past the end", 2 * model.ChunkSize, 2*model.ChunkSize + 3, nil, []int{2}},
		{"a file staged at another size but its first chunk", 2 * model.ChunkSize, 3 * model.ChunkSize, nil, []int{1, 2}},
		{"a wrong chunk among good ones", 2*model.ChunkSize + 10, 2*model.ChunkSize + 20, []int{0}, []int{2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, start, servertest.SizesNotFixed(t))
			data := randomData(t, c.size)
			id := attach(t, w.alice, w.m.ID, data)
			rec := &protocol.Record{ID: id, Collection: model.AttachmentCollection, Version: 1}
			resize := func(size int) {
				t.Helper()
				res := w.bob.PushOne(t, servertest.Update(rec, model.Fields{model.AttachSizeField: float64(size)}))
				if res.Result != model.ResultApplied {
					t.Fatalf("resize to %d: %+v", size, res)
				}
				rec = res.Record
			}
			upload(t, w.alice, id, data, c.early...)
			resize(c.wrong)
			wrong := append(append([]byte{}, data...), randomData(t, max(c.wrong-c.size, 0))...)[:c.wrong]
			for _, n := range c.late {
				b := chunkOf(wrong, n)
				if code, body, _ := fileCall(t, w.bob, http.MethodPut, protocol.PathFileChunk, id, n, b, sumOf(b)); code != http.StatusOK {
					t.Fatalf("put chunk %d at the wrong size: %d %s", n, code, body)
				}
			}
			resize(c.size)

			var st protocol.UploadStatus
			for round := 0; ; round++ {
				code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, "")
				if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
					t.Fatalf("upload status: %d %s", code, body)
				}
				for _, n := range st.Have {
					if model.ChunkLen(int64(c.size), n) < 0 {
						t.Fatalf("the status lists chunk %d, which a file of %d bytes does not have: %s", n, c.size, body)
					}
				}
				if st.Complete {
					break
				}
				var send []int
				for n := range model.ChunkCount(int64(c.size)) {
					if !slices.Contains(st.Have, n) {
						send = append(send, n)
					}
				}
				if len(send) == 0 || round == 3 {
					t.Fatalf("round %d: the upload is not complete, and its status leaves nothing to send: %s", round, body)
				}
				upload(t, w.alice, id, data, send...)
			}
			var got []byte
			for n := range model.ChunkCount(int64(c.size)) {
				code, b, _ := fileCall(t, w.bob, http.MethodGet, protocol.PathFileChunk, id, n, nil, "")
				if code != http.StatusOK {
					t.Fatalf("download chunk %d: %d %s", n, code, b)
				}
				got = append(got, b...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the bytes read back differ from the file's")
			}
		})
	}
}

func TestFileFactsFixedSQLite(t *testing.T)   { testFileFactsFixed(t, startSQLite) }
func TestFileFactsFixedPostgres(t *testing.T) { testFileFactsFixed(t, startPostgres) }

// testFileFactsFixed: an edit of an attachment's size or sha256 is
// rejected, whoever sends it, naming the field, and the file stays
// readable as uploaded; its name, its record and its matter may change,
// and a fixed field sent with the value it has changes nothing.
func testFileFactsFixed(t *testing.T, start starter) {
	w := newWorld(t, start)
	data := randomData(t, model.ChunkSize+10)
	id := attach(t, w.alice, w.m.ID, data)
	upload(t, w.alice, id, data, 0, 1)
	rec := &protocol.Record{ID: id, Collection: model.AttachmentCollection, Version: 1}
	for _, c := range []struct {
		by      *servertest.Client
		changes model.Fields
		fields  []string // the fixed fields named; none: applied
	}{
		{w.bob, model.Fields{model.AttachSizeField: float64(len(data) + 1)}, []string{model.AttachSizeField}},
		{w.alice, model.Fields{model.AttachHashField: sumOf([]byte("other bytes")), model.AttachNameField: "other.bin"}, []string{model.AttachHashField}},
		{w.bob, model.Fields{model.AttachHashField: sumOf(nil), model.AttachSizeField: 0.0}, []string{model.AttachSizeField, model.AttachHashField}},
		{w.bob, model.Fields{model.AttachNameField: "renamed.bin", model.AttachSizeField: float64(len(data)), model.AttachHashField: sumOf(data)}, nil},
		{w.alice, model.Fields{model.AttachRecordField: w.p.ID, model.MatterField: w.p.ID}, nil},
	} {
		res := c.by.PushOne(t, servertest.Update(rec, c.changes))
		if len(c.fields) == 0 {
			if res.Result != model.ResultApplied {
				t.Fatalf("%v: %+v", c.changes, res)
			}
			rec = res.Record
			continue
		}
		var named []string
		for _, p := range res.Problems {
			if p.Kind == model.ProblemFixed {
				named = append(named, p.Field)
			}
		}
		slices.Sort(named)
		if res.Result != model.ResultRejected || res.Code != protocol.CodeValidation || !slices.Equal(named, slices.Sorted(slices.Values(c.fields))) {
			t.Fatalf("%v: %+v; want rejected, naming %v as fixed", c.changes, res, c.fields)
		}
	}
	if rec.Fields[model.AttachNameField] != "renamed.bin" || rec.MatterID != w.p.ID {
		t.Fatalf("the edits allowed did not apply: %+v", rec)
	}
	code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFile, id, -1, nil, "")
	var m protocol.FileManifest
	if code != http.StatusOK || json.Unmarshal(body, &m) != nil || m.Size != int64(len(data)) || m.SHA256 != sumOf(data) {
		t.Fatalf("the file after the refused edits: %d %s", code, body)
	}
}
