package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"testing"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

// overhead bounds the bytes of one request or answer besides its chunk
// (headers, JSON status): far below a chunk, so an extra chunk shows.
const overhead = 4 << 10

func TestCutTransfersResumeSQLite(t *testing.T)   { testCutTransfersResume(t, false) }
func TestCutTransfersResumePostgres(t *testing.T) { testCutTransfersResume(t, true) }

// An upload and a download cut halfway resume from what the other side
// holds: across both passes no more than the file's chunks plus the one
// in flight cross the connection, and the second device ends with the
// same bytes, verified.
func testCutTransfersResume(t *testing.T, postgres bool) {
	w := newWorld(t, postgres)
	ctx := context.Background()
	alice, bob := w.device("alice"), w.device("bob")
	const chunks = 6
	data := randomData(t, (chunks-1)*model.ChunkSize+4321)
	att := alice.attach(w.matter, data, "scan.pdf")
	if f := alice.file(att.ID); f.State != localdb.FileQueued {
		t.Fatalf("a new attachment is %q, want queued", f.StateText())
	}
	alice.syncRecords()

	// Upload: the 4th chunk's connection is reset after it was sent.
	w.proxy.SetRule(cutNth(http.MethodPut, 4))
	sum, err := alice.engine.RunOnce(ctx)
	if err == nil || sum.Uploaded != 0 || sum.Waiting != 1 {
		t.Fatalf("cut upload: %+v, %v; want it waiting with an error", sum, err)
	}
	if f := alice.file(att.ID); f.State != localdb.FileQueued || f.Done != 3*model.ChunkSize {
		t.Fatalf("after the cut: %q, %d bytes done", f.StateText(), f.Done)
	}
	w.proxy.SetRule(nil)
	cut := alice.count.wrote.Load()
	alice.later()
	if sum, err = alice.engine.RunOnce(ctx); err != nil || sum.Uploaded != 1 {
		t.Fatalf("resumed upload: %+v, %v", sum, err)
	}
	resumed := alice.count.wrote.Load() - cut
	if max := int64(chunks-3)*model.ChunkSize + 8*overhead; resumed > max {
		t.Errorf("the resumed upload wrote %d bytes; the 3 missing chunks need at most %d", resumed, max)
	}
	if total, max := alice.count.wrote.Load(), int64(chunks+1)*model.ChunkSize+16*overhead; total > max {
		t.Errorf("the upload wrote %d bytes in all, more than its chunks plus one (%d)", total, max)
	}
	if f := alice.file(att.ID); f.State != localdb.FileUploaded {
		t.Fatalf("after the upload: %q", f.StateText())
	}

	// Download on bob's device (kept offline: under the threshold); the
	// 3rd chunk's connection is reset.
	bob.syncRecords()
	w.proxy.SetRule(cutNth(http.MethodGet, 3))
	if sum, err = bob.engine.RunOnce(ctx); err == nil || sum.Downloaded != 0 {
		t.Fatalf("cut download: %+v, %v", sum, err)
	}
	w.proxy.SetRule(nil)
	before := bob.count.read.Load()
	bob.later()
	if sum, err = bob.engine.RunOnce(ctx); err != nil || sum.Downloaded != 1 {
		t.Fatalf("resumed download: %+v, %v", sum, err)
	}
	if resumed, max := bob.count.read.Load()-before, int64(chunks-2)*model.ChunkSize+8*overhead; resumed > max {
		t.Errorf("the resumed download read %d bytes; the 4 missing chunks need at most %d", resumed, max)
	}
	if total, max := bob.count.read.Load(), int64(chunks+1)*model.ChunkSize+16*overhead; total > max {
		t.Errorf("the download read %d bytes in all, more than its chunks plus one (%d)", total, max)
	}
	f := bob.file(att.ID)
	if f.State != localdb.FileOffline {
		t.Fatalf("bob's file is %q, want available offline", f.StateText())
	}
	if !bytes.Equal(bob.bytesOf(f.SHA256), data) {
		t.Fatal("bob's bytes differ from alice's")
	}
}

func TestDamagedChunksAreRefusedAndSentAgain(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	alice, bob := w.device("alice"), w.device("bob")
	data := randomData(t, 2*model.ChunkSize+99)
	att := alice.attach(w.matter, data, "photo.jpg")
	alice.syncRecords()
	alice.tamper.putOnce = true
	if sum, err := alice.engine.RunOnce(ctx); err != nil || sum.Uploaded != 1 {
		t.Fatalf("upload with a damaged chunk: %+v, %v", sum, err)
	}
	// Three chunks and the damaged one again: the server refused it.
	if n := w.proxy.Requests("/v1/file/chunk"); n != 4 {
		t.Errorf("%d chunk requests, want 4 (3 chunks, one refused and sent again)", n)
	}
	bob.syncRecords()
	bob.tamper.getOnce = true
	if sum, err := bob.engine.RunOnce(ctx); err != nil || sum.Downloaded != 1 {
		t.Fatalf("download with a damaged chunk: %+v, %v", sum, err)
	}
	if !bytes.Equal(bob.bytesOf(bob.file(att.ID).SHA256), data) {
		t.Fatal("a damaged chunk reached bob's file")
	}
}

func TestUploadFinishesAfterSizeChangedSQLite(t *testing.T)   { testUploadAfterSizeChange(t, false) }
func TestUploadFinishesAfterSizeChangedPostgres(t *testing.T) { testUploadAfterSizeChange(t, true) }

// testUploadAfterSizeChange: on a server before sizes were fixed (whose
// records may hold such changes), another member changes the size of
// alice's attachment, stages its last chunk at that size, and changes the
// size back. Alice's upload, which sends only the chunks the server does
// not list, still finishes, and bob reads the same bytes.
func testUploadAfterSizeChange(t *testing.T, postgres bool) {
	w := newWorld(t, postgres, servertest.SizesNotFixed(t))
	ctx := context.Background()
	alice, bob := w.device("alice"), w.device("bob")
	data := randomData(t, model.ChunkSize+10)
	att := alice.attach(w.matter, data, "scan.pdf")
	alice.syncRecords()

	mallory := w.users["bob"]
	rec := &protocol.Record{ID: att.ID, Collection: model.AttachmentCollection, Version: 1}
	resize := func(size int) {
		t.Helper()
		res := mallory.PushOne(t, servertest.Update(rec, model.Fields{model.AttachSizeField: float64(size)}))
		if res.Result != model.ResultApplied {
			t.Fatalf("resize to %d: %+v", size, res)
		}
		rec = res.Record
	}
	resize(model.ChunkSize + 20)
	last := append(append([]byte{}, data[model.ChunkSize:]...), randomData(t, 10)...)
	q := url.Values{"id": {att.ID}, "n": {"1"}}
	req, err := http.NewRequest(http.MethodPut, mallory.URL+protocol.PathFileChunk+"?"+q.Encode(), bytes.NewReader(last))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+mallory.Token)
	sum := sha256.Sum256(last)
	req.Header.Set(protocol.HeaderChunkSHA256, hex.EncodeToString(sum[:]))
	resp, err := mallory.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stage the last chunk at the other size: %d", resp.StatusCode)
	}
	resize(len(data))

	// A chunk found wanting only at the end may take a second pass.
	for pass := 1; ; pass++ {
		s, err := alice.engine.RunOnce(ctx)
		if err != nil {
			t.Fatalf("pass %d: %+v, %v", pass, s, err)
		}
		if s.Uploaded == 1 {
			break
		}
		if pass == 3 {
			t.Fatalf("after %d passes the upload is still %q: %+v", pass, alice.file(att.ID).StateText(), s)
		}
		alice.later()
	}
	bob.syncRecords()
	if s, err := bob.engine.RunOnce(ctx); err != nil || s.Downloaded != 1 {
		t.Fatalf("download: %+v, %v", s, err)
	}
	if !bytes.Equal(bob.bytesOf(bob.file(att.ID).SHA256), data) {
		t.Fatal("bob's bytes differ from alice's")
	}
}
