package syncer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/syncer"
)

// pipelined makes a device that pushes ten ops a batch.
func pipelined(o *syncer.Options) { o.BatchSize = 10 }

// learnMatter makes a matter on d and syncs it: d's syncer learns from
// the answer whether the server says where a batch began.
func learnMatter(d *device) model.Record {
	d.t.Helper()
	m := d.create("matter", model.Fields{"title": "Pipelined"})
	if sum := d.sync(); sum.Pushed != 1 {
		d.t.Fatalf("%s: the matter's sync pushed %d", d.name, sum.Pushed)
	}
	return m
}

// queueNotes queues n new notes in matter m on d.
func queueNotes(d *device, m model.Record, n int) {
	d.t.Helper()
	for i := range n {
		d.create("note", model.Fields{model.MatterField: m.ID, "title": title(i)})
	}
}

// assertDrained checks that nothing of d's outbox is left, and that its
// pull cursor is the server's head: its pushes' answers were its pulls.
func assertDrained(t *testing.T, w *world, d *device) {
	t.Helper()
	if ops := d.outbox(); len(ops) != 0 {
		t.Fatalf("%s: %d ops left in the outbox, the first %s", d.name, len(ops), ops[0].State)
	}
	st, err := d.db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	head, err := w.srv.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Cursor != head {
		t.Fatalf("%s: cursor %d, server head %d", d.name, st.Cursor, head)
	}
}

// TestPushPipelinesBatches: a device with three batches to push takes and
// encodes the second while the first is on the server, and the third
// while the second is, applying each batch's answers while the server
// applies the next; the answers still move its cursor in order, so it
// pulls nothing back. Its first push, before it knows the server says
// where a batch began, overlaps nothing, and nor does a batch that
// empties the queue.
func TestPushPipelinesBatches(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	a := w.newDevice("a", alice, pipelined)
	m := a.create("matter", model.Fields{"title": "Pipelined"})
	queueNotes(a, m, 14)
	if sum := a.sync(); sum.Pushed != 15 || sum.Pulled != 0 || sum.Overlapped != 0 {
		t.Fatalf("first sync pushed %d, pulled %d, overlapped %d; want 15, 0 and 0 (the second batch waits for the first answer)",
			sum.Pushed, sum.Pulled, sum.Overlapped)
	}
	queueNotes(a, m, 30)
	sum := a.sync()
	if sum.Pushed != 30 || sum.Pulled != 0 || sum.Overlapped != 2 {
		t.Fatalf("sync pushed %d, pulled %d, overlapped %d; want 30, 0 and 2", sum.Pushed, sum.Pulled, sum.Overlapped)
	}
	if n := w.proxy.Requests("/v1/push"); n != 5 {
		t.Fatalf("%d push requests, want 5", n)
	}
	assertDrained(t, w, a)
	assertMirrors(t, a)

	// What is saved while a batch that emptied the queue travels goes in
	// one batch after its answers.
	queueNotes(a, m, 5)
	var pushes int
	w.proxy.SetRule(func(path string, _ []byte) (faultproxy.Fault, bool) {
		if path == "/v1/push" {
			if pushes++; pushes == 1 {
				queueNotes(a, m, 3) // saved while the first batch travels
			}
		}
		return "", false
	})
	if sum := a.sync(); sum.Pushed != 8 || sum.Overlapped != 0 || pushes != 2 {
		t.Fatalf("sync of a short queue pushed %d in %d requests, overlapped %d; want 8 in 2, and 0", sum.Pushed, pushes, sum.Overlapped)
	}
	assertDrained(t, w, a)
}

// TestPushPipelineWithoutPrior: against a server whose answers carry no
// prior head (older than it), each batch goes out only after the answers
// to the one before are applied, and the cursor the device named still
// spares it pulling its own writes back.
func TestPushPipelineWithoutPrior(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	target, err := url.Parse(w.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var stripped atomic.Int64
	older := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
		r.Out.Header.Del("Accept-Encoding") // answers in plain JSON, to be edited
	}}
	older.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/push" || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var answer map[string]json.RawMessage
		if err := json.Unmarshal(body, &answer); err != nil {
			return err
		}
		if _, ok := answer["prior"]; ok {
			stripped.Add(1)
		}
		delete(answer, "prior")
		body, err = json.Marshal(answer)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(older)
	t.Cleanup(srv.Close)
	a := &device{t: t, name: "a", user: alice, path: filepath.Join(t.TempDir(), "a.db")}
	a.open(srv.URL, pipelined)

	m := learnMatter(a)
	queueNotes(a, m, 30)
	sum := a.sync()
	if sum.Pushed != 30 || sum.Pulled != 0 || sum.Overlapped != 0 {
		t.Fatalf("sync pushed %d, pulled %d, overlapped %d; want 30, 0 and 0", sum.Pushed, sum.Pulled, sum.Overlapped)
	}
	if n := stripped.Load(); n != 4 {
		t.Fatalf("%d answers had their prior head taken out, want 4", n)
	}
	assertDrained(t, w, a)
	assertMirrors(t, a)
}

// TestPushPipelineAnotherWriteBetween: another device writes while the
// second batch is on its way. The second batch's prior head is then not
// where the first batch's answers left the cursor, so the cursor stays,
// and the pull brings the other write (and the device's own later ones).
func TestPushPipelineAnotherWriteBetween(t *testing.T) {
	w := newWorld(t)
	alice, bob, m := w.sharedMatter(t)
	a := w.newDevice("a", alice, pipelined)
	a.sync() // the shared matter
	queueNotes(a, model.Record{ID: m.ID}, 1)
	a.sync() // and what the server says of a push
	queueNotes(a, model.Record{ID: m.ID}, 25)
	var pushes int
	var fromBob string
	w.proxy.SetRule(func(path string, _ []byte) (faultproxy.Fault, bool) {
		if path != "/v1/push" {
			return "", false
		}
		if pushes++; pushes == 2 {
			fromBob = bob.CreateNote(t, m.ID, "from bob").ID
		}
		return "", false
	})
	sum := a.sync()
	if sum.Pushed != 25 || sum.Overlapped != 2 {
		t.Fatalf("sync pushed %d, overlapped %d; want 25 and 2", sum.Pushed, sum.Overlapped)
	}
	// Bob's note and the 15 notes of the two batches after it: the 10 of
	// the first batch came with its answers.
	if sum.Pulled != 16 {
		t.Fatalf("sync pulled %d, want 16", sum.Pulled)
	}
	if got := a.get(fromBob); got.Fields["title"] != "from bob" {
		t.Fatalf("bob's note on a = %v", got.Fields)
	}
	assertDrained(t, w, a)
	assertMirrors(t, a)
}

// TestPushPipelineFailureMidway: the second of three batches fails while
// the third is taken. The first batch ends synced, the second goes back
// to the queue (sent or not, by the fault), the third, never sent, goes
// back as it was (pending, no attempt counted), nothing is left in
// flight, and the next cycle pushes the rest once each.
func TestPushPipelineFailureMidway(t *testing.T) {
	for _, f := range []faultproxy.Fault{faultproxy.Unavailable, faultproxy.Drop, faultproxy.Reset, faultproxy.ServerError} {
		t.Run(string(f), func(t *testing.T) {
			w := newWorld(t)
			alice := w.srv.NewUser(t, "alice", server.RoleMember)
			a := w.newDevice("a", alice, pipelined)
			queueNotes(a, learnMatter(a), 30)
			w.proxy.Inject("/v1/push", faultproxy.Pass, f)
			sum, err := a.s.RunOnce(context.Background())
			if err == nil {
				t.Fatal("a sync whose second push failed returned no error")
			}
			if sum.Pushed != 10 || sum.Overlapped != 2 {
				t.Fatalf("failed sync pushed %d, overlapped %d; want 10 and 2", sum.Pushed, sum.Overlapped)
			}
			states := map[localdb.OpState]int{}
			for _, o := range a.outbox() {
				states[o.State]++
				if o.State == localdb.OpPending && o.Attempts != 0 {
					t.Errorf("op %s never sent counts %d attempts", o.OpID, o.Attempts)
				}
			}
			if states[localdb.OpRetrying] != 10 || states[localdb.OpPending] != 10 || len(states) != 2 {
				t.Fatalf("outbox after the failure: %v; want 10 retrying (the failed batch) and 10 pending (the batch taken but not sent)", states)
			}
			if st, err := a.db.Status(context.Background()); err != nil || st.Counts[model.StatePending] != 10 || st.Counts[model.StateSyncing] != 0 {
				t.Fatalf("record states after the failure: %v (%v); want 10 pending, none syncing", st.Counts, err)
			}
			sum = a.sync()
			if sum.Pushed != 20 {
				t.Fatalf("second sync pushed %d, want 20", sum.Pushed)
			}
			assertMirrors(t, a)
			if recs := liveRecords(serverRecords(t, alice)); len(recs) != 31 {
				t.Fatalf("the server holds %d records, want 31", len(recs))
			}
			if st, err := a.db.Status(context.Background()); err != nil || st.Counts[model.StateSynced] != 31 {
				t.Fatalf("records synced on a: %v (%v), want 31", st.Counts, err)
			}
		})
	}
}
