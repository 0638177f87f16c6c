package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
)

// gateStore is a real SQLite store whose first write transaction after
// it is armed waits for release, and which counts its write transactions.
type gateStore struct {
	store.Store
	writes  atomic.Int64
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGateStore(t *testing.T) *gateStore {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return &gateStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	g.writes.Add(1)
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.Store.Write(ctx, fn)
}

// pushTogether runs push(0) until its write transaction is held at the
// gate (g must be armed), then push(1…n), which queue behind it, releases
// the gate once all n wait, and returns when all are done.
func (g *gateStore) pushTogether(srv *servertest.Server, n int, push func(i int)) {
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			push(i)
		}()
	}
	start(0)
	<-g.entered // the first push holds the write lock
	for i := 1; i <= n; i++ {
		start(i)
	}
	for srv.PendingPushes() < n {
		time.Sleep(time.Millisecond) // the pushes are on their way; nothing is decided by this wait
	}
	close(g.release)
	wg.Wait()
}

// TestPushesShareACommit: pushes that arrive while a transaction is under
// way wait and are then applied together in one transaction (one disk
// sync); each still gets its own results, its own head and, when it is
// all that changed after its cursor, its own cursor.
func TestPushesShareACommit(t *testing.T) {
	ctx := context.Background()
	g := newGateStore(t)
	srv := servertest.Start(t, func(o *server.Options) { o.Store = g })
	const pushers = 4
	var users []*servertest.Client
	var matters []string
	for i := range pushers + 1 {
		c := srv.NewUser(t, fmt.Sprintf("user%d", i), server.RoleMember)
		users = append(users, c)
		matters = append(matters, c.CreateMatter(t, "Group").ID)
	}
	head0, _ := srv.Head(ctx)
	g.armed.Store(true)
	before := g.writes.Load()

	results := make([]protocol.PushResponse, pushers+1)
	g.pushTogether(srv, pushers, func(i int) {
		_, results[i] = pushFrom(t, users[i], head0, servertest.Create("note",
			model.Fields{"matter_id": matters[i], "title": fmt.Sprintf("note %d", i)}))
	})

	if n := g.writes.Load() - before; n != 2 {
		t.Fatalf("%d pushes took %d write transactions, want 2 (the first alone, the rest together)", pushers+1, n)
	}
	seqs := map[int64]bool{}
	for i, r := range results {
		if len(r.Results) != 1 || r.Results[0].Result != model.ResultApplied {
			t.Fatalf("push %d: %+v", i, r)
		}
		seq := r.Results[0].Record.Seq
		if seqs[seq] || r.Head != seq {
			t.Fatalf("push %d: seq %d, head %d; want a seq of its own and the head after it", i, seq, r.Head)
		}
		seqs[seq] = true
		// Each push of the group starts where the one before it ended.
		if r.Prior == nil || *r.Prior != seq-1 {
			t.Errorf("push %d (seq %d): prior %v, want %d", i, seq, r.Prior, seq-1)
		}
		// Only the first push of all follows head0 directly.
		if want := map[bool]int64{true: seq}[seq == head0+1]; r.Cursor != want {
			t.Errorf("push %d (seq %d): cursor %d, want %d", i, seq, r.Cursor, want)
		}
	}
}

// TestGroupWithAFailingOp: when one op of a group of pushes fails, the
// group is applied again with a savepoint around each op (the first
// attempt has none, see commitGroup): the failing op's push is answered
// with an error and every other op of the group stands, at gapless seqs
// with an intact audit chain.
func TestGroupWithAFailingOp(t *testing.T) {
	ctx := context.Background()
	g := newGateStore(t)
	f := &faultStore{Store: g}
	srv := servertest.Start(t, func(o *server.Options) { o.Store = f })
	const pushers = 4
	var users []*servertest.Client
	var ops [][]model.Op
	for i := range pushers + 1 {
		c := srv.NewUser(t, fmt.Sprintf("user%d", i), server.RoleMember)
		users = append(users, c)
		m := c.CreateMatter(t, "Group").ID
		var batch []model.Op
		for k := range 3 {
			batch = append(batch, servertest.Create("note", model.Fields{"matter_id": m, "title": fmt.Sprintf("note %d.%d", i, k)}))
		}
		ops = append(ops, batch)
	}
	failing := ops[2][1]
	f.set(func(ctx context.Context, tx store.Tx, e *store.AuditEntry) error {
		if e.Target != "note/"+failing.RecordID {
			return nil
		}
		return tx.PutLedger(ctx, store.LedgerEntry{OpID: ops[2][0].OpID, User: "user2", At: e.At, Result: []byte(`{}`)})
	})
	head0, _ := srv.Head(ctx)
	g.armed.Store(true)
	before := g.writes.Load()

	errs := make([]error, pushers+1)
	g.pushTogether(srv, pushers, func(i int) { _, errs[i] = users[i].Push(ctx, ops[i]...) })

	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Errorf("push %d: %v", i, err)
		}
	}
	// The first push alone, then the group without savepoints (rolled
	// back), then the group with them.
	if n := g.writes.Load() - before; n != 3 {
		t.Errorf("%d write transactions, want 3", n)
	}
	want := 3*(pushers+1) - 1
	if head, _ := srv.Head(ctx); head != head0+int64(want) {
		t.Errorf("head %d after the group, want %d: %d ops stand", head, head0+int64(want), want)
	}
	rep, err := srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit after the group: %+v %v", rep, err)
	}
	f.set(nil)
	resp, err := users[2].Push(ctx, ops[2]...)
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range resp.Results {
		if r.Result != model.ResultApplied {
			t.Errorf("op %d of the failed push sent again: %s %s", k, r.Result, r.Message)
		}
	}
	if got := resp.Results[1].Record.Seq; got != head0+int64(want)+1 {
		t.Errorf("the failed op applies at seq %d, want %d", got, head0+int64(want)+1)
	}
}

// TestSamePushTwiceInOneGroup: a device whose request timed out sends its
// batch again while the first is still queued behind a busy write (a
// push goes on after its client has gone), and both copies land in one
// group. Each op takes effect once, and both copies are answered alike.
func TestSamePushTwiceInOneGroup(t *testing.T) {
	ctx := context.Background()
	g := newGateStore(t)
	srv := servertest.Start(t, func(o *server.Options) { o.Store = g })
	alice := srv.NewUser(t, "alice", server.RoleMember)
	m := alice.CreateMatter(t, "Twice").ID
	old := servertest.Create("note", model.Fields{"matter_id": m, "title": "old"})
	if _, err := alice.Push(ctx, old); err != nil {
		t.Fatal(err)
	}
	batch := []model.Op{
		servertest.Create("note", model.Fields{"matter_id": m, "title": "new"}),
		{OpID: model.NewID(), Kind: model.OpUpdate, Collection: "note", RecordID: old.RecordID, BaseVersion: 1,
			Fields: model.Fields{"title": "edited"}},
	}
	head0, _ := srv.Head(ctx)
	g.armed.Store(true)
	before := g.writes.Load()
	results := make([]protocol.PushResponse, 3)
	g.pushTogether(srv, 2, func(i int) {
		if i == 0 { // holds the write while the two copies queue
			_, results[i] = pushFrom(t, alice, -1, servertest.Create("note", model.Fields{"matter_id": m, "title": "busy"}))
			return
		}
		_, results[i] = pushFrom(t, alice, -1, batch...)
	})
	if n := g.writes.Load() - before; n != 2 {
		t.Fatalf("%d write transactions, want 2: the busy push, then both copies in one group", n)
	}
	if head, _ := srv.Head(ctx); head != head0+3 {
		t.Fatalf("head %d, want %d: the busy push's op and the batch's two ops, once each", head, head0+3)
	}
	for k := range batch {
		a, b := results[1].Results[k], results[2].Results[k]
		if a.Result != model.ResultApplied || b.Result != model.ResultApplied || a.Record.Seq != b.Record.Seq || a.Record.Version != b.Record.Version {
			t.Errorf("op %d answered %s at seq %d (v%d) and %s at seq %d (v%d); want applied once, answered alike",
				k, a.Result, a.Record.Seq, a.Record.Version, b.Result, b.Record.Seq, b.Record.Version)
		}
	}
	if v := results[2].Results[1].Record.Version; v != 2 {
		t.Errorf("the edited record is at version %d, want 2", v)
	}
	rep, err := srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit after the group: %+v %v", rep, err)
	}
}
