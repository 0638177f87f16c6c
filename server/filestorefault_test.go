package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// startWithBlobsAt starts a server on PostgreSQL whose file store reaches
// the database at blobsURL (a link, or other settings) and its records
// directly.
func startWithBlobsAt(t *testing.T, blobsURL string, tweak func(*server.Options)) *servertest.Server {
	t.Helper()
	blobs, err := blobstore.OpenPostgres(context.Background(), blobsURL)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, func(o *server.Options) {
		o.DatabaseURL = storetest.PostgresURL(t)
		o.Blobs = blobs
		if tweak != nil {
			tweak(o)
		}
	})
}

// putChunk sends chunk 0 of data within a client timeout of 20 s and
// returns its status, its error code and Retry-After.
func putChunk(t *testing.T, c *servertest.Client, id string, data []byte) (int, protocol.Code, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, c.URL+protocol.PathFileChunk+"?id="+id+"&n=0", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set(protocol.HeaderChunkSHA256, sumOf(data))
	start := time.Now()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("put a chunk: no answer after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	var er protocol.ErrorResponse
	if resp.StatusCode != http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(&er)
		for _, leak := range []string{"SQLSTATE", "lock", "timeout", "deadline"} {
			if strings.Contains(er.Error.Message, leak) {
				t.Errorf("the answer %q tells of the database (%q)", er.Error.Message, leak)
			}
		}
	}
	return resp.StatusCode, er.Error.Code, resp.Header.Get("Retry-After")
}

// TestUploadWhileTheQuotaLockIsHeld: a chunk's transaction waits for the
// user's quota lock, which another session holds (a replica's upload
// whose link died mid-transaction, a person in psql). It used to wait as
// long as the holder did; now it gives up after lock_timeout and is
// answered 503 unavailable with Retry-After, and goes through once the
// lock is free.
func TestUploadWhileTheQuotaLockIsHeld(t *testing.T) {
	base := storetest.PostgresURL(t)
	srv := startWithBlobsAt(t, base+"&lock_timeout=300ms", nil)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Quayside")
	data := []byte("the harbour master's log, page one")
	id := attach(t, alice, m.ID, data)

	release := storetest.HoldLock(t, base, `SELECT pg_advisory_xact_lock(hashtextextended('casefile upload quota ' || 'alice', 0))`)
	status, code, retry := putChunk(t, alice, id, data)
	if status != http.StatusServiceUnavailable || code != protocol.CodeUnavailable || retry == "" {
		t.Fatalf("a chunk while the quota lock is held: %d %s (Retry-After %q), want 503 unavailable with Retry-After", status, code, retry)
	}
	release()
	if status, code, _ := putChunk(t, alice, id, data); status != http.StatusOK {
		t.Fatalf("the chunk once the lock is free: %d %s", status, code)
	}
	if status, _, _ := fileCall(t, alice, http.MethodGet, protocol.PathFile, id, -1, nil, ""); status != http.StatusOK {
		t.Fatalf("the file after its upload: %d", status)
	}
}

// TestUploadAfterTheFileStoresLinkWentSilent: when the file store's
// connections to PostgreSQL go silent (nothing arrives, nothing is
// reported), a chunk is answered 503 within the file store's bound
// instead of waiting until TCP gives up, and the next one goes through
// on a new connection.
func TestUploadAfterTheFileStoresLinkWentSilent(t *testing.T) {
	blobsURL, link := behindLink(t)
	const bound = 2 * time.Second
	srv := startWithBlobsAt(t, blobsURL, func(o *server.Options) { o.FileStoreTimeout = bound })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Severed")
	first := []byte("exhibit A, before")
	if status, code, _ := putChunk(t, alice, attach(t, alice, m.ID, first), first); status != http.StatusOK {
		t.Fatalf("a chunk before the link went silent: %d %s", status, code)
	}
	if n := link.Sever(); n == 0 {
		t.Fatal("no connection passed the link")
	}
	data := []byte("exhibit B, after")
	id := attach(t, alice, m.ID, data)
	start := time.Now()
	status, code, retry := putChunk(t, alice, id, data)
	took := time.Since(start)
	if status == http.StatusOK {
		t.Fatal("a chunk went through a silent link: the test proves nothing")
	}
	if status != http.StatusServiceUnavailable || code != protocol.CodeUnavailable || retry == "" {
		t.Fatalf("a chunk after the link went silent: %d %s (Retry-After %q), want 503 unavailable", status, code, retry)
	}
	if took > 4*bound {
		t.Errorf("the refusal took %v, with the file store bounded at %v", took.Round(time.Millisecond), bound)
	}
	if status, code, _ := putChunk(t, alice, id, data); status != http.StatusOK {
		t.Fatalf("the chunk sent again: %d %s", status, code)
	}
}
