package syncer_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
)

// The disk fills while a push is on the server: its answer cannot be
// written, nor can the ops be put back in the queue. They stay syncing,
// this process's; once there is room again, the next sync puts them back
// and sends them again (not at the next start only), and the server
// answers them once.
func TestOpsStrandedByAFullDiskGoOnceThereIsRoom(t *testing.T) {
	w := newWorld(t)
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	var full, armed atomic.Bool
	armed.Store(true)
	to, err := url.Parse(w.proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	fwd := httputil.NewSingleHostReverseProxy(to)
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathPush && armed.Load() {
			full.Store(true) // the disk fills while the server applies the push
		}
		fwd.ServeHTTP(rw, r)
	}))
	t.Cleanup(front.Close)
	d := &device{t: t, name: "a", user: alice, path: filepath.Join(t.TempDir(), "a.db"),
		lopts: []localdb.Option{localdb.WithWriteFault(func() error {
			if full.Load() {
				return errors.New("no space left on device")
			}
			return nil
		})}}
	d.open(front.URL)
	m := d.create("matter", model.Fields{"title": "Written before the disk filled"})
	if _, err := d.s.RunOnce(t.Context()); !errors.Is(err, localdb.ErrFull) {
		t.Fatalf("sync on a full disk: %v, want ErrFull", err)
	}
	if ops := d.outbox(); len(ops) != 1 || ops[0].State != localdb.OpSyncing {
		t.Fatalf("after the full disk: %+v, want the op stranded in syncing", ops)
	}
	armed.Store(false)
	full.Store(false)
	sum := d.sync()
	if ops := d.outbox(); len(ops) != 0 {
		t.Fatalf("ops left after room was made: %+v", ops)
	}
	if got := d.get(m.ID); got.State != model.StateSynced || got.Version == 0 {
		t.Fatalf("the matter after room was made: %+v", got)
	}
	if sum.Pushed != 1 {
		t.Fatalf("summary %+v, want the op pushed once", sum)
	}
	if n := len(serverRecords(t, alice)); n != 1 {
		t.Fatalf("the server holds %d records, want 1", n)
	}
}
