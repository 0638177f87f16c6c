package server

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/server/store"
	"casefile/server/store/sqlitestore"
)

// countingStore is a real SQLite store that counts its read transactions.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) Read(ctx context.Context, fn func(store.Reader) error) error {
	c.reads.Add(1)
	return c.Store.Read(ctx, fn)
}

// startReads opens a store and a read group with its lanes working until
// the test ends.
func startReads(t *testing.T) (*countingStore, *readGroup, context.CancelFunc) {
	t.Helper()
	cs := openCounting(t)
	g, cancel := startGroup(t, cs)
	return cs, g, cancel
}

// openCounting opens a counting store, closed when the test ends.
func openCounting(t *testing.T) *countingStore {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &countingStore{Store: st}
}

// startGroup starts a read group on st with its lanes working until the
// test ends (before the store closes).
func startGroup(t *testing.T, st store.Store) (*readGroup, context.CancelFunc) {
	g := newReadGroup(st)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range readLanes(st) {
		wg.Go(func() { g.work(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return g, cancel
}

// bump commits one change and returns the head it left.
func bump(t *testing.T, st store.Store) int64 {
	t.Helper()
	var seq int64
	err := st.Write(context.Background(), func(tx store.Tx) (err error) {
		seq, err = tx.NextSeq(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// awaitWaiting returns once n reads wait for a lane. The reads are on
// their way; nothing is decided by this wait.
func (g *readGroup) awaitWaiting(n int) {
	for {
		g.mu.Lock()
		waiting := len(g.pending) + len(g.later)
		g.mu.Unlock()
		if waiting >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// holdLanes occupies every lane with a read that waits for release, and
// returns once all of them are being read. It hands them in one at a
// time: two handed in together would share a lane.
func holdLanes(t *testing.T, g *readGroup, release <-chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for range readLanes(g.st) {
		in := make(chan struct{})
		wg.Go(func() {
			err := g.read(context.Background(), func(context.Context, store.Reader) error {
				close(in)
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
		<-in
	}
	return &wg
}

// TestReadsWaitingShareATransaction: reads handed in while every lane is
// busy are read together in one transaction once a lane comes free, each
// seeing every change committed before it was handed in, each with its
// own answer and error (a read that panics fails alone).
func TestReadsWaitingShareATransaction(t *testing.T) {
	st, g, _ := startReads(t)
	release := make(chan struct{})
	held := holdLanes(t, g, release)
	before := st.reads.Load()
	head := bump(t, st) // committed before any of the reads below is handed in
	const n = 50
	heads := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = g.read(context.Background(), func(ctx context.Context, rd store.Reader) error {
				switch i {
				case 7:
					_, err := rd.Token(ctx, "no such token")
					return err
				case 9:
					panic("a read's own defect")
				}
				h, err := rd.Head(ctx)
				heads[i] = h.Seq
				return err
			})
		})
	}
	g.awaitWaiting(n)
	close(release)
	wg.Wait()
	held.Wait()
	if got := st.reads.Load() - before; got != 1 {
		t.Errorf("%d reads waiting took %d transactions, want 1", n, got)
	}
	for i := range n {
		switch {
		case i == 7:
			if !errors.Is(errs[i], store.ErrNotFound) {
				t.Errorf("read %d: err %v, want its own ErrNotFound", i, errs[i])
			}
		case i == 9:
			if errs[i] == nil || !strings.Contains(errs[i].Error(), "a read's own defect") {
				t.Errorf("read %d panicked: err %v, want the panic as its error", i, errs[i])
			}
		case errs[i] != nil:
			t.Errorf("read %d: %v (another read's error leaked)", i, errs[i])
		case heads[i] != head:
			t.Errorf("read %d saw head %d, want %d committed before it", i, heads[i], head)
		}
	}
}

// TestReadBatchesAreBounded: a queue longer than maxReadBatch is read in
// several transactions, none with more than maxReadBatch reads.
func TestReadBatchesAreBounded(t *testing.T) {
	st, g, _ := startReads(t)
	release := make(chan struct{})
	held := holdLanes(t, g, release)
	before := st.reads.Load()
	n := maxReadBatch*2 + 1
	var inTx, most atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	perTx := map[store.Reader]int{}
	for range n {
		wg.Go(func() {
			err := g.read(context.Background(), func(_ context.Context, rd store.Reader) error {
				inTx.Add(1)
				mu.Lock()
				perTx[rd]++
				if c := int64(perTx[rd]); c > most.Load() {
					most.Store(c)
				}
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	g.awaitWaiting(n)
	close(release)
	wg.Wait()
	held.Wait()
	if got := inTx.Load(); got != int64(n) {
		t.Fatalf("%d of %d reads ran", got, n)
	}
	if m := most.Load(); m > maxReadBatch {
		t.Errorf("a transaction read %d jobs, more than %d", m, maxReadBatch)
	}
	if got := st.reads.Load() - before; got < 3 {
		t.Errorf("%d reads took %d transactions, want at least 3", n, got)
	}
}

// TestReadCallerGone: a read whose caller's context ends before its batch
// is not read and gets the context's error; the others in the batch are
// read as usual.
func TestReadCallerGone(t *testing.T) {
	_, g, _ := startReads(t)
	release := make(chan struct{})
	held := holdLanes(t, g, release)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	var goneErr, otherErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		goneErr = g.read(ctx, func(context.Context, store.Reader) error { ran.Store(true); return nil })
	})
	g.awaitWaiting(1)
	wg.Go(func() {
		otherErr = g.read(context.Background(), func(ctx context.Context, rd store.Reader) error {
			_, err := rd.Head(ctx)
			return err
		})
	})
	g.awaitWaiting(2)
	cancel()
	close(release)
	wg.Wait()
	held.Wait()
	if ran.Load() || !errors.Is(goneErr, context.Canceled) {
		t.Errorf("a read whose caller left: ran %v, err %v; want not run, context.Canceled", ran.Load(), goneErr)
	}
	if otherErr != nil {
		t.Errorf("the read beside it: %v", otherErr)
	}
}

// TestReadsAfterClose: reads waiting when the group stops fail with
// errReadsClosed, and so does every later one, at once.
func TestReadsAfterClose(t *testing.T) {
	_, g, stop := startReads(t)
	release := make(chan struct{})
	held := holdLanes(t, g, release)
	var waitingErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		waitingErr = g.read(context.Background(), func(context.Context, store.Reader) error { return nil })
	})
	g.awaitWaiting(1)
	stop()
	close(release)
	wg.Wait()
	held.Wait()
	if !errors.Is(waitingErr, errReadsClosed) {
		t.Errorf("a read waiting at the stop: %v, want errReadsClosed", waitingErr)
	}
	done := make(chan error, 1)
	go func() { done <- g.read(context.Background(), func(context.Context, store.Reader) error { return nil }) }()
	select {
	case err := <-done:
		if !errors.Is(err, errReadsClosed) {
			t.Errorf("a read after the stop: %v, want errReadsClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read after the stop waits for ever")
	}
}

// TestRequestsReadBeforeStreams: a request's read handed in behind more
// than a full batch of stream checks is read first, in the next batch
// taken, which is full: the checks left over wait for the one after. (The
// two batches run on two lanes at once, so only the batches say which
// was taken first.)
func TestRequestsReadBeforeStreams(t *testing.T) {
	_, g, _ := startReads(t)
	release := make(chan struct{})
	held := holdLanes(t, g, release)
	var mu sync.Mutex
	type read struct {
		what  string
		batch store.Reader
	}
	var order []read
	note := func(what string) func(context.Context, store.Reader) error {
		return func(_ context.Context, rd store.Reader) error {
			mu.Lock()
			order = append(order, read{what, rd})
			mu.Unlock()
			return nil
		}
	}
	var wg sync.WaitGroup
	for range maxReadBatch + 1 {
		wg.Go(func() {
			if err := g.readLater(context.Background(), note("stream")); err != nil {
				t.Error(err)
			}
		})
	}
	g.awaitWaiting(maxReadBatch + 1)
	wg.Go(func() {
		if err := g.read(context.Background(), note("request")); err != nil {
			t.Error(err)
		}
	})
	g.awaitWaiting(maxReadBatch + 2)
	close(release)
	wg.Wait()
	held.Wait()
	if len(order) != maxReadBatch+2 {
		t.Fatalf("%d reads, want %d", len(order), maxReadBatch+2)
	}
	var batch []string
	for _, r := range order {
		if r.batch == order[slices.IndexFunc(order, func(r read) bool { return r.what == "request" })].batch {
			batch = append(batch, r.what)
		}
	}
	if len(batch) != maxReadBatch || batch[0] != "request" {
		t.Errorf("the request's read came %dth of a batch of %d, want first of %d", slices.Index(batch, "request")+1, len(batch), maxReadBatch)
	}
}

// memberCounting counts the membership questions that reach the store.
type memberCounting struct {
	store.Reader
	asked *atomic.Int64
}

// holderCounting counts the holder and membership reads that reach the
// store.
type holderCounting struct {
	store.Store
	held, asked atomic.Int64
}

type holderCounted struct {
	store.Reader
	c *holderCounting
}

func (c *holderCounting) Read(ctx context.Context, fn func(store.Reader) error) error {
	return c.Store.Read(ctx, func(rd store.Reader) error { return fn(holderCounted{rd, c}) })
}

func (h holderCounted) Holder(ctx context.Context, hash string) (store.Token, store.User, error) {
	h.c.held.Add(1)
	return h.Reader.Holder(ctx, hash)
}

func (h holderCounted) IsMember(ctx context.Context, user, matterID string) (bool, error) {
	h.c.asked.Add(1)
	return h.Reader.IsMember(ctx, user, matterID)
}

// TestAccessMemoAcrossBatches: a token's holder and a membership read by
// one batch are answered to later batches without reading them again,
// until the access generation moves: a device revoked or a membership
// ended through another handle on the database (another process, as
// `casefile admin` is) is read by the next batch. Writes that change no
// access (a device seen, a token added) keep the memo.
func TestAccessMemoAcrossBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlitestore.FileName)
	open := func() store.Store {
		st, err := sqlitestore.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := &holderCounting{Store: open()}
	other := open()
	g, _ := startGroup(t, st)
	ctx := context.Background()
	const matter = "0190a6d8-0000-7000-8000-000000000001"
	now := time.Now().UTC().Truncate(time.Microsecond)
	change := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := other.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	change(func(tx store.Tx) error {
		if err := tx.AddUser(ctx, store.User{Name: "ann", Role: "member", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutToken(ctx, store.Token{Hash: "h1", User: "ann", Device: "laptop", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.TouchDevice(ctx, "ann", "laptop", now); err != nil {
			return err
		}
		_, err := tx.AddMember(ctx, "ann", matter)
		return err
	})
	type answer struct {
		revoked bool
		member  bool
	}
	ask := func() (answer, int64, int64) {
		t.Helper()
		held, asked := st.held.Load(), st.asked.Load()
		var a answer
		err := g.read(ctx, func(ctx context.Context, rd store.Reader) error {
			tok, u, err := rd.Holder(ctx, "h1")
			if err != nil {
				return err
			}
			if u.Name != "ann" || tok.Device != "laptop" {
				t.Errorf("holder = %+v, %+v", tok, u)
			}
			a.revoked = !tok.RevokedAt.IsZero()
			a.member, err = rd.IsMember(ctx, "ann", matter)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return a, st.held.Load() - held, st.asked.Load() - asked
	}
	steps := []struct {
		what       string
		change     func(tx store.Tx) error
		want       answer
		readsAgain bool
	}{
		{"first batch", nil, answer{member: true}, true},
		{"second batch", nil, answer{member: true}, false},
		{"a device seen and a token added", func(tx store.Tx) error {
			if err := tx.TouchDevice(ctx, "ann", "laptop", now.Add(time.Minute)); err != nil {
				return err
			}
			return tx.PutToken(ctx, store.Token{Hash: "h2", User: "ann", Device: "phone", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}, answer{member: true}, false},
		{"the device revoked", func(tx store.Tx) error {
			_, err := tx.RevokeDevice(ctx, "ann", "laptop", now.Add(time.Second), "admin")
			return err
		}, answer{revoked: true, member: true}, true},
		{"the membership ended", func(tx store.Tx) error {
			_, err := tx.RemoveMember(ctx, "ann", matter)
			return err
		}, answer{revoked: true}, true},
		{"nothing changed", nil, answer{revoked: true}, false},
	}
	for _, s := range steps {
		if s.change != nil {
			change(s.change)
		}
		got, held, asked := ask()
		if got != s.want {
			t.Errorf("%s: answered %+v, want %+v", s.what, got, s.want)
		}
		if want := map[bool]int64{true: 1, false: 0}[s.readsAgain]; held != want || asked != want {
			t.Errorf("%s: the store was asked for the holder %d and the membership %d times, want %d", s.what, held, asked, want)
		}
	}
}

func (m memberCounting) IsMember(ctx context.Context, user, matterID string) (bool, error) {
	m.asked.Add(1)
	return m.Reader.IsMember(ctx, user, matterID)
}

type memberCountingStore struct {
	*countingStore
	asked atomic.Int64
}

func (c *memberCountingStore) Read(ctx context.Context, fn func(store.Reader) error) error {
	return c.countingStore.Read(ctx, func(rd store.Reader) error { return fn(memberCounting{rd, &c.asked}) })
}

// TestReadBatchAsksMembershipOnce: reads in one batch that ask the same
// membership question (the streams of one user, checked for one change)
// send it to the store once and each get the store's answer; a
// membership changed between batches is read again.
func TestReadBatchAsksMembershipOnce(t *testing.T) {
	cs := openCounting(t)
	st := &memberCountingStore{countingStore: cs}
	g, _ := startGroup(t, st)
	const matter = "0190a6d8-0000-7000-8000-000000000001"
	err := cs.Write(context.Background(), func(tx store.Tx) error {
		for _, u := range []string{"ann", "bob"} {
			if err := tx.AddUser(context.Background(), store.User{Name: u, Role: "member", CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		_, err := tx.AddMember(context.Background(), "ann", matter)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(users []string) []bool {
		release := make(chan struct{})
		held := holdLanes(t, g, release)
		got := make([]bool, len(users))
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() {
				err := g.read(context.Background(), func(ctx context.Context, rd store.Reader) (err error) {
					got[i], err = rd.IsMember(ctx, u, matter)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		g.awaitWaiting(len(users))
		close(release)
		wg.Wait()
		held.Wait()
		return got
	}
	users := []string{"ann", "bob", "ann", "ann", "bob", "ann"}
	before := st.asked.Load()
	if got, want := ask(users), []bool{true, false, true, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	if asked := st.asked.Load() - before; asked != 2 {
		t.Errorf("%d membership questions, two of them distinct, reached the store %d times; want 2", len(users), asked)
	}
	err = cs.Write(context.Background(), func(tx store.Tx) error {
		_, err := tx.RemoveMember(context.Background(), "ann", matter)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ask([]string{"ann", "ann"}); slices.Contains(got, true) {
		t.Errorf("after ann left the matter the next batch answered %v", got)
	}
}
