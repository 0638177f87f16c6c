package server_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/protocol"
	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
)

// sqliteFaultStore is a SQLite store whose audit rows fail as its test
// sets (faultStore).
func sqliteFaultStore(t *testing.T) *faultStore {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return &faultStore{Store: st}
}

// arrivalSetup starts a server set up by tweak, with alice, a matter of
// hers and an attachment in it of data, not yet uploaded: its id.
func arrivalSetup(t *testing.T, tweak func(*server.Options), data []byte) (*servertest.Server, *servertest.Client, string) {
	t.Helper()
	srv := servertest.Start(t, tweak)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Quayside")
	return srv, alice, attach(t, alice, m.ID, data)
}

// fileArrivals returns the file_uploaded audit rows of attachment id.
func fileArrivals(t *testing.T, srv *servertest.Server, id string) []store.AuditEntry {
	t.Helper()
	all, err := srv.Audit(context.Background(), 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range all {
		if e.Action == "file_uploaded" && strings.HasSuffix(e.Target, "/"+id) {
			out = append(out, e)
		}
	}
	return out
}

// TestFileArrivalAuditedAfterItsAuditFailed: when the audit row of a
// file's arrival cannot be written after its bytes were committed (the
// database failed between the two, or the server died), the upload is
// complete all the same, and the next compaction writes the row, once,
// with the commit's time and the sending device. Before, the file stayed
// uploaded with no audit row: a retry found it complete and wrote none.
func TestFileArrivalAuditedAfterItsAuditFailed(t *testing.T) {
	ctx := context.Background()
	f := sqliteFaultStore(t)
	data := []byte("the harbour master's log, page two")
	srv, alice, id := arrivalSetup(t, func(o *server.Options) { o.Store = f }, data)

	failed := false
	f.set(func(_ context.Context, _ store.Tx, e *store.AuditEntry) error {
		if e.Action == "file_uploaded" && !failed {
			failed = true
			return errors.New("the database went away")
		}
		return nil
	})
	committed := time.Now()
	if status, _, _ := putChunk(t, alice, id, data); status == http.StatusOK {
		t.Fatal("the chunk's answer was 200 though its audit row failed: the test proves nothing")
	}
	if got := fileArrivals(t, srv, id); len(got) != 0 {
		t.Fatalf("%d audit rows of the arrival after its audit failed", len(got))
	}
	// Sent again, the upload is complete: its bytes are held.
	if status, code, _ := putChunk(t, alice, id, data); status != http.StatusOK {
		t.Fatalf("the chunk sent again: %d %s", status, code)
	}
	if status, _, _ := fileCall(t, alice, http.MethodGet, protocol.PathFile, id, -1, nil, ""); status != http.StatusOK {
		t.Fatalf("the file after its upload: %d", status)
	}

	// A commit a moment old may be writing its row now: left alone.
	if n, err := srv.AuditArrivals(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("arrivals audited within their grace: %d, %v", n, err)
	}
	later := time.Now().Add(2 * time.Minute)
	if n, err := srv.AuditArrivals(ctx, later); err != nil || n != 1 {
		t.Fatalf("arrivals audited: %d, %v; want 1", n, err)
	}
	got := fileArrivals(t, srv, id)
	if len(got) != 1 {
		t.Fatalf("%d audit rows of the arrival, want 1", len(got))
	}
	e := got[0]
	if e.Actor != "alice" || e.Device == "" || !strings.Contains(e.After, "sha256:"+sumOf(data)) || e.At.Before(committed.Add(-time.Second)) || e.At.After(committed.Add(time.Minute)) {
		t.Errorf("the arrival's audit row: %+v", e)
	}
	if n, err := srv.AuditArrivals(ctx, later); err != nil || n != 0 {
		t.Fatalf("arrivals audited a second time: %d, %v", n, err)
	}
	if rep, err := srv.VerifyAudit(ctx); err != nil || !rep.OK() {
		t.Fatalf("the audit chain: %+v %v", rep, err)
	}
}

// TestFileArrivalAuditedOnce: an upload whose audit row is written leaves
// nothing for compaction to audit again.
func TestFileArrivalAuditedOnce(t *testing.T) {
	ctx := context.Background()
	data := []byte("the harbour master's log, page three")
	srv, alice, id := arrivalSetup(t, func(*server.Options) {}, data)
	if status, code, _ := putChunk(t, alice, id, data); status != http.StatusOK {
		t.Fatalf("the chunk: %d %s", status, code)
	}
	if n, err := srv.AuditArrivals(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("arrivals audited again: %d, %v", n, err)
	}
	if got := fileArrivals(t, srv, id); len(got) != 1 || got[0].Device == "" {
		t.Fatalf("the arrival's audit rows: %+v", got)
	}
}

// auditAtOnce runs n of the server's compactions' audits of arrivals at
// once, as replicas' loops may, at the time at, and returns how many rows
// they wrote in all.
func auditAtOnce(t *testing.T, srv *servertest.Server, n int, at time.Time) int {
	t.Helper()
	var wg sync.WaitGroup
	var wrote atomic.Int64
	for range n {
		wg.Go(func() {
			k, err := srv.AuditArrivals(context.Background(), at)
			if err != nil {
				t.Errorf("audit arrivals: %v", err)
			}
			wrote.Add(int64(k))
		})
	}
	wg.Wait()
	return int(wrote.Load())
}

// arrivedFails is a file store whose note of an arrival cannot be
// cleared (Arrived) while fail is set: the database failed after the
// arrival's audit row was written.
type arrivedFails struct {
	blobstore.Store
	fail atomic.Bool
}

func (a *arrivedFails) Arrived(ctx context.Context, recordID string) error {
	if a.fail.Load() {
		return errors.New("the database went away")
	}
	return a.Store.Arrived(ctx, recordID)
}

// TestFileArrivalNotAuditedTwice: an arrival whose audit row was written
// but whose note could not be cleared is not audited again by
// compaction, which clears the note; nor by two compactions at once.
// Before, compaction wrote a second row for it.
func TestFileArrivalNotAuditedTwice(t *testing.T) {
	ctx := context.Background()
	blobs, err := blobstore.OpenDir(ctx, filepath.Join(t.TempDir(), blobstore.DirName))
	if err != nil {
		t.Fatal(err)
	}
	f := &arrivedFails{Store: blobs}
	data := []byte("the harbour master's log, page four")
	srv, alice, id := arrivalSetup(t, func(o *server.Options) { o.Blobs = f }, data)
	f.fail.Store(true)
	if status, code, _ := putChunk(t, alice, id, data); status != http.StatusOK {
		t.Fatalf("the chunk: %d %s", status, code)
	}
	f.fail.Store(false)
	if got := fileArrivals(t, srv, id); len(got) != 1 {
		t.Fatalf("%d audit rows of the arrival, want 1", len(got))
	}
	later := time.Now().Add(2 * time.Minute)
	wrote := auditAtOnce(t, srv, 2, later)
	if got := fileArrivals(t, srv, id); len(got) != 1 || wrote != 0 {
		t.Fatalf("%d audit rows of the arrival after compaction found its note (%d written by it), want 1 (none)", len(got), wrote)
	}
	if ps, err := blobs.Arrivals(ctx, later, 10); err != nil || len(ps) != 0 {
		t.Fatalf("arrivals left to audit: %+v, %v", ps, err)
	}
}

// TestFileArrivalsLateAuditedOnceByTwo: two compactions at once (two
// replicas' loops) audit an arrival whose row failed once between them.
func TestFileArrivalsLateAuditedOnceByTwo(t *testing.T) {
	f := sqliteFaultStore(t)
	data := []byte("the harbour master's log, page five")
	srv, alice, id := arrivalSetup(t, func(o *server.Options) { o.Store = f }, data)
	f.set(func(_ context.Context, _ store.Tx, e *store.AuditEntry) error {
		if e.Action == "file_uploaded" {
			return errors.New("the database went away")
		}
		return nil
	})
	if status, _, _ := putChunk(t, alice, id, data); status == http.StatusOK {
		t.Fatal("the chunk's answer was 200 though its audit row failed: the test proves nothing")
	}
	f.set(nil)
	wrote := auditAtOnce(t, srv, 4, time.Now().Add(2*time.Minute))
	if got := fileArrivals(t, srv, id); len(got) != 1 || wrote != 1 {
		t.Fatalf("%d audit rows of the arrival after four compactions at once (%d written by them), want 1", len(got), wrote)
	}
}
