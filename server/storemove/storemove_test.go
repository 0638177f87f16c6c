package storemove_test

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
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
	"casefile/server/storemove"
	"casefile/server/storetest"
)

// running is a server the test stops when it chooses.
type running struct {
	*servertest.Server
	stop func()
}

// start opens a server on opts' store and serves it on 127.0.0.1 until
// stop (or the test's end).
func start(t *testing.T, opts server.Options) *running {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.Password = server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}
	opts.CompactEvery = -1
	srv, err := server.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := srv.Close(); err != nil {
				t.Errorf("close server: %v", err)
			}
			<-done
		})
	}
	t.Cleanup(stop)
	return &running{Server: &servertest.Server{Server: srv, URL: "http://" + ln.Addr().String(), Dir: opts.DataDir}, stop: stop}
}

// fileCall sends one request to a file route and returns status and body.
func fileCall(t *testing.T, c *servertest.Client, method, path, id string, n int, body []byte) (int, []byte) {
	t.Helper()
	q := url.Values{"id": {id}, "n": {strconv.Itoa(n)}}
	req, err := http.NewRequest(method, c.URL+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if method == http.MethodPut {
		req.Header.Set(protocol.HeaderChunkSHA256, sum(body))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func chunk(data []byte, n int) []byte {
	off := n * model.ChunkSize
	return data[off : off+model.ChunkLen(int64(len(data)), n)]
}

// attach pushes an attachment record for data and uploads the chunks
// named; it returns the record's id.
func attach(t *testing.T, c *servertest.Client, matterID string, data []byte, chunks ...int) string {
	t.Helper()
	a := model.Attachment{MatterID: matterID, RecordID: matterID, Name: "exhibit.bin", Size: int64(len(data)), SHA256: sum(data)}
	res := c.PushOne(t, servertest.Create(model.AttachmentCollection, a.Fields()))
	if res.Result != model.ResultApplied {
		t.Fatalf("push attachment: %+v", res)
	}
	for _, n := range chunks {
		if code, body := fileCall(t, c, http.MethodPut, protocol.PathFileChunk, res.Record.ID, n, chunk(data, n)); code != http.StatusOK {
			t.Fatalf("put chunk %d: %d %s", n, code, body)
		}
	}
	return res.Record.ID
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum(b)
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMoveEndToEnd moves a SQLite server that has seen a little of
// everything, and checks that devices carry on against PostgreSQL as they
// would have against the old server.
func TestMoveEndToEnd(t *testing.T) {
	pg := storetest.PostgresURL(t)
	ctx := context.Background()
	dir := t.TempDir()
	old := start(t, server.Options{DataDir: dir})
	alice := old.NewUser(t, "alice", protocol.RoleMember)
	bob := old.NewUser(t, "bob", protocol.RoleMember)
	matter := alice.CreateMatter(t, "Smith v Jones")
	if err := old.Grant(ctx, "bob", matter.ID); err != nil {
		t.Fatal(err)
	}

	// A note deleted and its tombstone compacted: the marks move.
	early := alice.CreateNote(t, matter.ID, "early")
	alice.PushOne(t, servertest.Delete(early))
	if _, err := old.Compact(ctx, time.Now().Add(server.DefaultRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}

	one := alice.CreateNote(t, matter.ID, "one")
	two := alice.CreateNote(t, matter.ID, "two")
	three := alice.CreateNote(t, matter.ID, "three")
	pages, err := bob.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cursor := pages[len(pages)-1].Cursor

	edit := servertest.Update(one, model.Fields{"title": "one, edited"})
	edited := alice.PushOne(t, edit)
	if edited.Result != model.ResultApplied {
		t.Fatalf("edit: %+v", edited)
	}
	alice.PushOne(t, servertest.Delete(two))
	if r := bob.PushOne(t, servertest.Update(three, model.Fields{"title": "three, by bob"})); r.Result != model.ResultApplied {
		t.Fatalf("bob's edit: %+v", r)
	}
	clash := servertest.Update(three, model.Fields{"title": "three, by alice"})
	clashed := alice.PushOne(t, clash)
	if clashed.Result != model.ResultConflict {
		t.Fatalf("alice's edit: %+v, want a conflict", clashed)
	}
	laptop, err := servertest.Login(ctx, old.URL, "alice", servertest.Password, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if err := old.RevokeDevice(ctx, "alice", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := servertest.Login(ctx, old.URL, "bob", "not bob's password", "phone"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	data := make([]byte, 2*model.ChunkSize+100)
	_, _ = rand.Read(data)
	file := attach(t, alice, matter.ID, data, 0, 1, 2)
	partial := data[:2*model.ChunkSize]
	inProgress := attach(t, alice, matter.ID, partial, 1) // chunk 0 is still to come

	wantPages, err := bob.PullAll(ctx, cursor)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(wantPages[0].Records); n < 4 {
		t.Fatalf("bob's pull from his cursor holds %d records; the edit, the delete, the conflict's edit and the files should be there", n)
	}
	wantFull, err := alice.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	oldAudit, err := old.VerifyAudit(ctx)
	if err != nil || !oldAudit.OK() {
		t.Fatalf("old audit: %+v %v", oldAudit, err)
	}
	old.stop()

	serverDB := filepath.Join(dir, sqlitestore.FileName)
	blobsDB := filepath.Join(dir, blobstore.DirName, blobstore.IndexName)
	before := []string{fileSum(t, serverDB), fileSum(t, blobsDB)}
	oldHead := readHead(t, serverDB)

	res, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: pg})
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	if after := []string{fileSum(t, serverDB), fileSum(t, blobsDB)}; after[0] != before[0] || after[1] != before[1] {
		t.Errorf("the move changed the SQLite files")
	}
	if res.Head.Seq != oldHead.Seq || res.Head.CompactedThrough != oldHead.CompactedThrough || res.Head.LedgerThrough != oldHead.LedgerThrough ||
		res.Head.AuditRows != oldHead.AuditRows || res.Head.AuditHash != oldHead.AuditHash {
		t.Errorf("moved head %+v, the old one %+v", res.Head, oldHead)
	}
	if oldHead.CompactedThrough == 0 || oldHead.LedgerThrough == 0 {
		t.Errorf("the old server never compacted: %+v", oldHead)
	}
	if res.Files != 1 || res.Chunks != 3 || res.Bytes != int64(len(data)) {
		t.Errorf("moved %d files, %d chunks, %d bytes; want 1, 3, %d", res.Files, res.Chunks, res.Bytes, len(data))
	}
	if len(res.Dropped) != 1 || res.Dropped[0].Table != "blob_staged" || res.Dropped[0].Rows != 1 {
		t.Errorf("dropped %+v, want the one staged chunk", res.Dropped)
	}
	counts := map[string]int64{}
	for _, c := range res.Tables {
		counts[c.Table] = c.Rows
	}
	for table, want := range map[string]int64{"users": 2, "devices": 3, "members": 2, "login_failures": 2, "blob_proofs": 1} {
		if counts[table] != want {
			t.Errorf("moved %d rows of %s, want %d", counts[table], table, want)
		}
	}

	moved := start(t, server.Options{DatabaseURL: pg})
	for _, c := range []*servertest.Client{alice, bob, laptop} {
		c.URL = moved.URL
	}
	// The same token pulls from its old cursor and gets what the old
	// server gave.
	gotPages, err := bob.PullAll(ctx, cursor)
	if err != nil {
		t.Fatalf("bob's pull from his cursor: %v", err)
	}
	if got, want := asJSON(t, gotPages), asJSON(t, wantPages); got != want {
		t.Errorf("bob's pull after the move:\n%s\nbefore:\n%s", got, want)
	}
	gotFull, err := alice.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(t, gotFull), asJSON(t, wantFull); got != want {
		t.Errorf("alice's full pull after the move:\n%s\nbefore:\n%s", got, want)
	}
	// Resent op ids are answered from the ledger, not applied again.
	if got := alice.PushOne(t, edit); asJSON(t, got) != asJSON(t, edited) {
		t.Errorf("resent edit answered %+v, first %+v", got, edited)
	}
	if got := alice.PushOne(t, clash); asJSON(t, got) != asJSON(t, clashed) {
		t.Errorf("resent conflicting edit answered %+v, first %+v", got, clashed)
	}
	if h, err := moved.Head(ctx); err != nil || h != oldHead.Seq {
		t.Errorf("head after the resends %d (%v), want %d", h, err, oldHead.Seq)
	}
	for n := range 3 {
		code, body := fileCall(t, bob, http.MethodGet, protocol.PathFileChunk, file, n, nil)
		if code != http.StatusOK || !bytes.Equal(body, chunk(data, n)) {
			t.Errorf("chunk %d after the move: %d, %d bytes", n, code, len(body))
		}
	}
	rep, err := moved.VerifyAudit(ctx)
	if err != nil || !rep.OK() || rep.Rows != oldAudit.Rows {
		t.Errorf("audit after the move: %+v %v, want %d rows intact", rep, err, oldAudit.Rows)
	}
	var se *servertest.StatusError
	if _, err := laptop.Pull(ctx, 0, 0); !errors.As(err, &se) || se.Code != protocol.CodeDeviceRevoked {
		t.Errorf("the revoked laptop pulled: %v", err)
	}
	// New writes take the sequences after the old head.
	if n := alice.CreateNote(t, matter.ID, "after the move"); n.Seq != oldHead.Seq+1 {
		t.Errorf("first note after the move at seq %d, want %d", n.Seq, oldHead.Seq+1)
	}
	// The upload in progress starts again: the new store holds none of it.
	var st protocol.UploadStatus
	if code, body := fileCall(t, alice, http.MethodGet, protocol.PathFileUpload, inProgress, 0, nil); code != http.StatusOK || json.Unmarshal(body, &st) != nil || len(st.Have) != 0 {
		t.Errorf("upload in progress after the move: %d %s", code, body)
	}
	for n := range 2 {
		code, body := fileCall(t, alice, http.MethodPut, protocol.PathFileChunk, inProgress, n, chunk(partial, n))
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
			t.Fatalf("chunk %d of the upload sent again: %d %s", n, code, body)
		}
	}
	if !st.Complete {
		t.Errorf("the upload sent again is not complete: %+v", st)
	}
}

// readHead reads a SQLite store's head without changing it.
func readHead(t *testing.T, path string) store.Head {
	t.Helper()
	st, err := sqlitestore.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var h store.Head
	if err := st.Read(context.Background(), func(r store.Reader) (err error) { h, err = r.Head(context.Background()); return err }); err != nil {
		t.Fatal(err)
	}
	return h
}
