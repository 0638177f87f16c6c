package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"casefile/server/store"
)

// Read batching limits.
const (
	// defaultReadLanes is how many batches are read at once when the
	// store does not say (store.Laned): enough to keep both cores of a
	// small server busy, few enough that each batch is large under load.
	defaultReadLanes = 2
	// maxReadBatch bounds the jobs of one read transaction, so that a
	// batch never holds a snapshot (and with SQLite, the checkpointer)
	// for long.
	maxReadBatch = 256
)

var errReadsClosed = errors.New("the server is closing")

// readGroup batches the small reads every request and event stream makes
// (who holds a token, what a stream's hints mean for its user, the head):
// jobs waiting when a lane comes free are read in one transaction. With
// 10,000 streams each beginning its own read transaction, the
// transactions' own cost (and with SQLite, a page cache emptied by every
// commit in between) was most of a busy server's reading; one transaction
// for many jobs pays it once. A job is read in a transaction that begins
// after the job was handed in, so it sees every change committed before,
// as a read of its own would. A request's read goes before the streams'
// checks waiting: a client waits for the one, a poke can wait a little.
type readGroup struct {
	st      store.Store
	mu      sync.Mutex
	wake    *sync.Cond
	pending []*readJob // requests' reads: a client waits for each
	later   []*readJob // event streams' checks: a poke may wait a little
	closed  bool
}

// readJob is one read in a batch. fn runs with the batch's context, not
// the caller's: cancelling one caller must not break the transaction the
// others share (with PostgreSQL, a cancelled statement aborts it).
type readJob struct {
	ctx  context.Context
	fn   func(context.Context, store.Reader) error
	err  error
	done chan struct{}
}

// readLanes is how many batches to read at once from st.
func readLanes(st store.Store) int {
	if l, ok := st.(store.Laned); ok && l.ReadLanes() > 0 {
		return l.ReadLanes()
	}
	return defaultReadLanes
}

func newReadGroup(st store.Store) *readGroup {
	g := &readGroup{st: st}
	g.wake = sync.NewCond(&g.mu)
	return g
}

// read runs fn in the next batch and returns its error. A caller whose
// context ends while it waits is not read; it gets the context's error.
func (g *readGroup) read(ctx context.Context, fn func(context.Context, store.Reader) error) error {
	return g.enqueue(ctx, fn, &g.pending)
}

// readLater is read for a job no client waits on: it is read after every
// read waiting, in the same batch when there is room.
func (g *readGroup) readLater(ctx context.Context, fn func(context.Context, store.Reader) error) error {
	return g.enqueue(ctx, fn, &g.later)
}

func (g *readGroup) enqueue(ctx context.Context, fn func(context.Context, store.Reader) error, queue *[]*readJob) error {
	j := &readJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errReadsClosed
	}
	*queue = append(*queue, j)
	g.mu.Unlock()
	g.wake.Signal()
	<-j.done
	return j.err
}

// work reads batches until ctx ends; then it fails the jobs left and
// every later one.
func (g *readGroup) work(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.wake.Broadcast()
	})
	defer stop()
	for {
		g.mu.Lock()
		for len(g.pending)+len(g.later) == 0 && !g.closed {
			g.wake.Wait()
		}
		if g.closed || ctx.Err() != nil {
			g.closed = true
			left := append(g.pending, g.later...)
			g.pending, g.later = nil, nil
			g.mu.Unlock()
			for _, j := range left {
				j.err = errReadsClosed
				close(j.done)
			}
			return
		}
		n := min(len(g.pending), maxReadBatch)
		batch := append([]*readJob(nil), g.pending[:n]...)
		g.pending = g.pending[n:]
		m := min(len(g.later), maxReadBatch-n)
		batch = append(batch, g.later[:m]...)
		g.later = g.later[m:]
		g.mu.Unlock()
		g.readBatch(ctx, batch)
	}
}

// readBatch reads the jobs of batch in one transaction. A job's error is
// its own; the others go on.
func (g *readGroup) readBatch(ctx context.Context, batch []*readJob) {
	err := g.st.Read(ctx, func(rd store.Reader) error {
		rd = &memberMemo{Reader: rd, seen: map[memberKey]bool{}}
		for _, j := range batch {
			if j.err = j.ctx.Err(); j.err == nil {
				j.err = runJob(ctx, j, rd)
			}
		}
		return nil
	})
	for _, j := range batch {
		if err != nil && j.err == nil {
			j.err = err
		}
		close(j.done)
	}
}

// memberMemo answers a batch's repeated membership questions with the
// first answer: the batch is one transaction, a snapshot, so a second
// answer could not differ. A change in a matter wakes every stream of the
// users who see it, up to sixteen a user, and each stream's check asks
// whether its user sees the matter. The batch's jobs run one after
// another, so the memo needs no lock.
type memberMemo struct {
	store.Reader
	seen map[memberKey]bool
}

type memberKey struct{ user, matter string }

func (m *memberMemo) IsMember(ctx context.Context, user, matterID string) (bool, error) {
	k := memberKey{user, matterID}
	if is, ok := m.seen[k]; ok {
		return is, nil
	}
	is, err := m.Reader.IsMember(ctx, user, matterID)
	if err == nil {
		m.seen[k] = is
	}
	return is, err
}

// runJob runs one job's read. A read that panics fails alone, as its
// request would have on a goroutine of its own (net/http recovers a
// handler's panic), instead of taking the lane and the server with it.
func runJob(ctx context.Context, j *readJob, rd store.Reader) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return j.fn(ctx, rd)
}
