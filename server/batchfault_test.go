package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storetest"
)

// faultStore is a real store whose write transactions call at, when set,
// right after each audit row is appended: the op's seq, record and audit
// row are written then, its ledger row is not.
type faultStore struct {
	store.Store
	mu sync.Mutex
	at func(ctx context.Context, tx store.Tx, e *store.AuditEntry) error
}

func (f *faultStore) set(at func(ctx context.Context, tx store.Tx, e *store.AuditEntry) error) {
	f.mu.Lock()
	f.at = at
	f.mu.Unlock()
}

func (f *faultStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Write(ctx, func(tx store.Tx) error { return fn(&faultTx{Tx: tx, f: f}) })
}

type faultTx struct {
	store.Tx
	f *faultStore
}

func (t *faultTx) Savepoint(ctx context.Context, fn func(store.Tx) error) error {
	return t.Tx.Savepoint(ctx, func(tx store.Tx) error { return fn(&faultTx{Tx: tx, f: t.f}) })
}

func (t *faultTx) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if err := t.Tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	t.f.mu.Lock()
	at := t.f.at
	t.f.mu.Unlock()
	if at == nil {
		return nil
	}
	return at(ctx, t.Tx, e)
}

// faultWorld is a server over a faultStore where alice and bob share a
// matter; bob's event stream is open at the head.
type faultWorld struct {
	srv        *servertest.Server
	st         *faultStore
	alice, bob *servertest.Client
	matter     string
	head       int64
	events     <-chan sseEvent
}

func newFaultWorld(t *testing.T, pg bool) *faultWorld {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if pg {
		st, err = pgstore.Open(ctx, storetest.PostgresURL(t))
	} else {
		st, err = sqlitestore.Open(ctx, filepath.Join(t.TempDir(), sqlitestore.FileName))
	}
	if err != nil {
		t.Fatal(err)
	}
	w := &faultWorld{st: &faultStore{Store: st}}
	w.srv = servertest.Start(t, func(o *server.Options) { o.Store = w.st })
	w.alice = w.srv.NewUser(t, "alice", server.RoleMember)
	w.bob = w.srv.NewUser(t, "bob", server.RoleMember)
	w.matter = w.alice.CreateMatter(t, "Smith v Jones").ID
	if err := w.srv.Grant(ctx, "bob", w.matter); err != nil {
		t.Fatal(err)
	}
	if w.head, err = w.srv.Head(ctx); err != nil {
		t.Fatal(err)
	}
	w.events = stream(t, w.srv.URL, w.bob.Token, strconv.FormatInt(w.head, 10))
	greeting(t, w.events)
	return w
}

func (w *faultWorld) notes(n int) []model.Op {
	ops := make([]model.Op, n)
	for i := range ops {
		ops[i] = servertest.Create("note", model.Fields{model.MatterField: w.matter, "title": "Note " + strconv.Itoa(i)})
	}
	return ops
}

// pulled returns the ids of what bob pulls after the world's head, and
// the head he is told.
func (w *faultWorld) pulled(t *testing.T) ([]string, int64) {
	t.Helper()
	p, err := w.bob.Pull(context.Background(), w.head, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, r := range p.Records {
		if r.Seq != w.head+int64(i)+1 {
			t.Errorf("record %d of the pull has seq %d, want %d: seqs must have no gaps", i, r.Seq, w.head+int64(i)+1)
		}
		ids = append(ids, r.ID)
	}
	return ids, p.Head
}

func TestBatchOpFailureSQLite(t *testing.T)   { testBatchOpFailure(t, false) }
func TestBatchOpFailurePostgres(t *testing.T) { testBatchOpFailure(t, true) }

// testBatchOpFailure makes one op of a batch fail with a real database
// error after it wrote its seq, record and audit row, and checks that the
// op is undone alone: the others are committed whole, with gapless seqs,
// an intact audit chain and a poke, and sending the batch again applies
// the failed op and replays the rest.
func testBatchOpFailure(t *testing.T, pg bool) {
	ctx := context.Background()
	w := newFaultWorld(t, pg)
	ops := w.notes(4)
	ops = append(ops, servertest.Create("note", model.Fields{model.MatterField: w.matter})) // rejected: no title
	failing := ops[1]
	w.st.set(func(ctx context.Context, tx store.Tx, e *store.AuditEntry) error {
		if e.Target != "note/"+failing.RecordID {
			return nil
		}
		// A duplicate op id in the ledger: PostgreSQL aborts the
		// transaction until the op's savepoint is rolled back to.
		return tx.PutLedger(ctx, store.LedgerEntry{OpID: ops[0].OpID, User: "alice", At: e.At, Result: []byte(`{}`)})
	})
	_, err := w.alice.Push(ctx, ops...)
	var se *servertest.StatusError
	if !errors.As(err, &se) || se.Status != 500 || se.Code != "internal" {
		t.Fatalf("push with a failing op: %v, want 500 internal", err)
	}
	ids, head := w.pulled(t)
	want := []string{ops[0].RecordID, ops[2].RecordID, ops[3].RecordID}
	if jsonOf(t, ids) != jsonOf(t, want) || head != w.head+3 {
		t.Fatalf("after the failed op bob pulls %v at head %d, want %v at %d", ids, head, want, w.head+3)
	}
	if seq := nextPoke(t, w.events); seq != head {
		t.Errorf("poke after the batch = %d, want %d", seq, head)
	}
	rep, err := w.srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit after a failed op: %+v %v", rep, err)
	}
	rows := rep.Rows

	// Sent again, the committed ops replay and the failed one applies.
	w.st.set(nil)
	resp, err := w.alice.Push(ctx, ops...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		wantResult := model.ResultApplied
		if i == 4 {
			wantResult = model.ResultRejected
		}
		if r.Result != wantResult {
			t.Errorf("op %d sent again: %s %s, want %s", i+1, r.Result, r.Message, wantResult)
		}
	}
	if got := resp.Results[1].Record.Seq; got != head+1 {
		t.Errorf("the failed op applies at seq %d, want %d", got, head+1)
	}
	if got := resp.Results[2].Record.Seq; got != w.head+2 {
		t.Errorf("a committed op replays with seq %d, want %d", got, w.head+2)
	}
	if rep, err := w.srv.VerifyAudit(ctx); err != nil || !rep.OK() || rep.Rows != rows+1 {
		t.Fatalf("audit after sending again: %+v %v, want %d rows", rep, err, rows+1)
	}
}

func TestBatchInvisibleUntilCommitSQLite(t *testing.T)   { testBatchInvisibleUntilCommit(t, false) }
func TestBatchInvisibleUntilCommitPostgres(t *testing.T) { testBatchInvisibleUntilCommit(t, true) }

// testBatchInvisibleUntilCommit holds a batch inside its transaction after
// several of its ops were written, and checks that neither a pull, the
// head nor the event stream shows any of it until it commits.
func testBatchInvisibleUntilCommit(t *testing.T, pg bool) {
	ctx := context.Background()
	w := newFaultWorld(t, pg)
	ops := w.notes(5)
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	w.st.set(func(ctx context.Context, tx store.Tx, e *store.AuditEntry) error {
		if e.Target == "note/"+ops[3].RecordID {
			close(reached)
			<-release
		}
		return nil
	})
	type answer struct {
		head int64
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := w.alice.Push(ctx, ops...)
		done <- answer{resp.Head, err}
	}()
	<-reached
	if ids, head := w.pulled(t); len(ids) != 0 || head != w.head {
		t.Errorf("during the batch bob pulls %d records at head %d, want none at %d", len(ids), head, w.head)
	}
	if head, err := w.srv.Head(ctx); err != nil || head != w.head {
		t.Errorf("head during the batch = %d (%v), want %d", head, err, w.head)
	}
	select {
	case ev := <-w.events:
		if ev.event != "" {
			t.Errorf("bob was poked before the batch committed: %+v", ev)
		}
	default:
	}
	once.Do(func() { close(release) })
	a := <-done
	if a.err != nil || a.head != w.head+5 {
		t.Fatalf("push: head %d, %v; want head %d", a.head, a.err, w.head+5)
	}
	if ids, head := w.pulled(t); len(ids) != 5 || head != a.head {
		t.Errorf("after the commit bob pulls %d records at head %d, want 5 at %d", len(ids), head, a.head)
	}
	if seq := nextPoke(t, w.events); seq != a.head {
		t.Errorf("poke after the commit = %d, want %d", seq, a.head)
	}
}
