package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/apiclient"
	"casefile/assets"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
	"casefile/syncer"
	"casefile/transfer"
	"casefile/vault"
)

// world is a server, a fault proxy in front of it and a shared matter.
type world struct {
	t      testing.TB
	srv    *servertest.Server
	proxy  *faultproxy.Proxy
	matter string
	users  map[string]*servertest.Client
}

func newWorld(t testing.TB, postgres bool, opts ...servertest.Option) *world {
	t.Helper()
	if postgres {
		url := storetest.PostgresURL(t)
		opts = append(opts, func(o *server.Options) { o.DatabaseURL = url })
	}
	srv := servertest.Start(t, opts...)
	p, err := faultproxy.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	w := &world{t: t, srv: srv, proxy: p, users: map[string]*servertest.Client{}}
	for _, u := range []string{"alice", "bob", "dave"} {
		w.users[u] = srv.NewUser(t, u, server.RoleMember)
	}
	w.matter = w.users["alice"].CreateMatter(t, "Smith v Jones").ID
	if err := srv.Grant(context.Background(), "bob", w.matter); err != nil {
		t.Fatal(err)
	}
	return w
}

// counter counts the bytes a device's connections write and read.
type counter struct{ wrote, read atomic.Int64 }

type countedConn struct {
	net.Conn
	c *counter
}

func (c countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.wrote.Add(int64(n))
	return n, err
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.read.Add(int64(n))
	return n, err
}

// tamper damages the body of one request or answer on its way.
type tamper struct {
	base http.RoundTripper
	mu   sync.Mutex
	// putOnce / getOnce flip a byte of the next chunk sent / received.
	putOnce, getOnce bool
}

func (tp *tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	tp.mu.Lock()
	flipPut := tp.putOnce && r.Method == http.MethodPut && r.URL.Path == protocol.PathFileChunk
	flipGet := tp.getOnce && r.Method == http.MethodGet && r.URL.Path == protocol.PathFileChunk
	if flipPut {
		tp.putOnce = false
	}
	if flipGet {
		tp.getOnce = false
	}
	tp.mu.Unlock()
	if flipPut {
		b, _ := io.ReadAll(r.Body)
		b[len(b)/2] ^= 0x55
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := tp.base.RoundTrip(r)
	if err == nil && flipGet {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b[len(b)/3] ^= 0x55
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, err
}

// device is one user's client: database, file store, syncer, transfers.
type device struct {
	t      testing.TB
	db     *localdb.DB
	files  *localfiles.Dir
	sync   *syncer.Syncer
	engine *transfer.Engine
	count  *counter
	tamper *tamper
	skew   atomic.Int64 // the engine's clock runs this far ahead, so retries fall due
}

func (d *device) now() time.Time { return time.Now().Add(time.Duration(d.skew.Load())) }

// later makes every retry due.
func (d *device) later() { d.skew.Add(int64(time.Hour)) }

func (w *world) device(user string) *device {
	w.t.Helper()
	dir := w.t.TempDir()
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		w.t.Fatal(err)
	}
	// Each device seals its database and its files, as casefile does.
	keys, err := vault.NewRandom()
	if err != nil {
		w.t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), filepath.Join(dir, "casefile.db"), schema, localdb.WithSealer(keys))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	files, err := localfiles.OpenDir(filepath.Join(dir, localfiles.DirName), localfiles.WithSealer(keys))
	if err != nil {
		w.t.Fatal(err)
	}
	d := &device{t: w.t, db: db, files: files, count: &counter{}}
	tr := apiclient.DefaultHTTPClient().Transport.(*http.Transport).Clone()
	dial := (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{Conn: c, c: d.count}, nil
	}
	d.tamper = &tamper{base: tr}
	token := w.users[user].Token
	api, err := apiclient.NewClient(w.proxy.URL, token, &http.Client{Transport: d.tamper})
	if err != nil {
		w.t.Fatal(err)
	}
	d.engine = transfer.New(db, files, api, transfer.Options{Now: d.now})
	d.sync = syncer.New(db, syncer.Options{Server: w.srv.URL, Token: token, Device: "test", PollInterval: time.Hour})
	w.t.Cleanup(func() { d.sync.Close() })
	d.syncRecords()
	return d
}

func (d *device) syncRecords() {
	d.t.Helper()
	if _, err := d.sync.RunOnce(context.Background()); err != nil {
		d.t.Fatalf("sync records: %v", err)
	}
}

// attach imports data and attaches it to a new document of the matter.
func (d *device) attach(matter string, data []byte, name string) model.Record {
	d.t.Helper()
	ctx := context.Background()
	doc, err := d.db.Create(ctx, "document", "", model.Fields{model.MatterField: matter, "title": "Exhibit " + name})
	if err != nil {
		d.t.Fatal(err)
	}
	hash, size, err := d.files.Import(bytes.NewReader(data))
	if err != nil {
		d.t.Fatal(err)
	}
	rec, err := d.db.Attach(ctx, doc.ID, model.Attachment{Name: name, Size: size, SHA256: hash, MediaType: "application/octet-stream"})
	if err != nil {
		d.t.Fatal(err)
	}
	return rec
}

func (d *device) bytesOf(hash string) []byte {
	d.t.Helper()
	r, err := d.files.Open(hash)
	if err != nil {
		d.t.Fatalf("open %s: %v", hash, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

func (d *device) file(id string) localdb.FileInfo {
	d.t.Helper()
	f, err := d.db.File(context.Background(), id)
	if err != nil {
		d.t.Fatal(err)
	}
	return f
}

func randomData(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// cutNth returns a rule that resets the connection of the nth request
// (from 1) of method to the chunk route, and passes the rest. A GET is
// cut twice in a row: Go's transport replays an idempotent request once
// on a reused connection that breaks, which is no cut at all.
func cutNth(method string, nth int) faultproxy.Rule {
	var seen atomic.Int64
	return func(path string, body []byte) (faultproxy.Fault, bool) {
		if path != protocol.PathFileChunk || (method == http.MethodPut) != (len(body) > 0) {
			return "", false
		}
		n := seen.Add(1)
		if n == int64(nth) || (method == http.MethodGet && n == int64(nth)+1) {
			return faultproxy.Reset, true
		}
		return "", false
	}
}
