package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

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
	// readBatchTimeout bounds one batch's transaction. Its jobs are small
	// reads, done in milliseconds; a batch still reading after this long
	// is on a connection that died without a word (a link gone silent),
	// and without a bound it would hold its lane, and every request
	// waiting for a read, until TCP gave up.
	readBatchTimeout = 10 * time.Second
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
	memo    *accessMemo
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
	// claimed is set by whichever comes first: the batch, as it takes
	// the job, or its caller, giving up when its context ends before.
	claimed atomic.Bool
}

// readLanes is how many batches to read at once from st.
func readLanes(st store.Store) int {
	if l, ok := st.(store.Laned); ok && l.ReadLanes() > 0 {
		return l.ReadLanes()
	}
	return defaultReadLanes
}

func newReadGroup(st store.Store) *readGroup {
	g := &readGroup{st: st, memo: &accessMemo{gen: -1}}
	g.wake = sync.NewCond(&g.mu)
	return g
}

// read runs fn in the next batch and returns its error. A caller whose
// context ends while it waits is not read; it gets the context's error
// at once, even while a batch is being read.
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
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		if j.claimed.CompareAndSwap(false, true) {
			return ctx.Err() // the batch will not run fn
		}
		// fn is running and writes the caller's variables: wait for it
		// (a batch is bounded by readBatchTimeout).
		<-j.done
		return j.err
	}
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
	ctx, cancel := context.WithTimeout(ctx, readBatchTimeout)
	defer cancel()
	err := g.st.Read(ctx, func(rd store.Reader) error {
		rd = &batchMemo{Reader: rd, shared: g.memo, seen: map[memberKey]bool{}}
		for _, j := range batch {
			if j.claimed.CompareAndSwap(false, true) {
				if j.err = j.ctx.Err(); j.err == nil {
					j.err = runJob(ctx, j, rd)
				}
			} else {
				j.err = j.ctx.Err()
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

// accessMemo remembers who holds each token and who is a member of what,
// as read at one access generation of the store (store.Reader.AccessGen):
// while the generation stands still, the store would answer the same. A
// token's holder is asked by every request and by every event stream's
// check, before each poke and on each heartbeat; with 10,000 streams that
// was tens of thousands of reads a second of rows that almost never
// change. Each batch now reads the generation, one small row, and reads a
// holder or a membership only when the memo lacks it. Any change to
// tokens, devices' revocations, users or memberships, by this server,
// another replica or another process, moves the generation and empties
// the memo at the next batch, so an answer is never older than the
// batch's snapshot's. A push takes its token's holder from the memo
// without a batch, and its write transaction confirms it
// (confirmHolders), keeping here what it reads again.
type accessMemo struct {
	mu      sync.Mutex
	gen     int64 // -1 before the first batch
	holders map[string]holder
	members map[memberKey]bool
}

type holder struct {
	tok  store.Token
	user store.User
}

type memberKey struct{ user, matter string }

// maxAccessMemo bounds each map of the memo; a full map starts over.
const maxAccessMemo = 1 << 16

// holderAt returns the holder the memo holds for a token's hash and the
// generation it holds it at.
func (m *accessMemo) holderAt(hash string) (holder, int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.holders[hash]
	return h, m.gen, ok
}

// learn remembers a holder read at access generation gen or later (a
// write transaction's confirmHolders reads it after the generation),
// moving the memo to gen when it is newer.
func (m *accessMemo) learn(gen int64, hash string, h holder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.moveTo(gen)
	if gen == m.gen {
		if len(m.holders) >= maxAccessMemo {
			clear(m.holders)
		}
		m.holders[hash] = h
	}
}

// moveTo starts the memo over at generation gen when it is newer than
// the memo's; m.mu is held.
func (m *accessMemo) moveTo(gen int64) {
	if gen > m.gen {
		m.gen, m.holders, m.members = gen, map[string]holder{}, map[memberKey]bool{}
	}
}

// batchMemo is a read batch's reader: Holder and IsMember answer from the
// memo when the batch reads the generation the memo holds, and add what
// they read to it. The batch also keeps its own membership answers (it is
// one snapshot, so a second answer could not differ), for a batch whose
// snapshot is older than the memo's generation. The batch's jobs run one
// after another, so only the shared memo needs a lock.
type batchMemo struct {
	store.Reader
	shared *accessMemo
	gen    int64
	synced bool // gen was read
	seen   map[memberKey]bool
}

// sync reads the batch's access generation once, and moves the memo to
// it when it is newer (the memo then starts over).
func (b *batchMemo) sync(ctx context.Context) error {
	if b.synced {
		return nil
	}
	g, err := b.Reader.AccessGen(ctx)
	if err != nil {
		return err
	}
	b.gen, b.synced = g, true
	m := b.shared
	m.mu.Lock()
	m.moveTo(g)
	m.mu.Unlock()
	return nil
}

func (b *batchMemo) Holder(ctx context.Context, hash string) (store.Token, store.User, error) {
	if err := b.sync(ctx); err != nil {
		return store.Token{}, store.User{}, err
	}
	m := b.shared
	m.mu.Lock()
	h, ok := m.holders[hash]
	ok = ok && m.gen == b.gen
	m.mu.Unlock()
	if ok {
		return h.tok, h.user, nil
	}
	tok, u, err := b.Reader.Holder(ctx, hash)
	if err != nil {
		return tok, u, err
	}
	m.learn(b.gen, hash, holder{tok, u})
	return tok, u, nil
}

func (b *batchMemo) IsMember(ctx context.Context, user, matterID string) (bool, error) {
	k := memberKey{user, matterID}
	if is, ok := b.seen[k]; ok {
		return is, nil
	}
	if err := b.sync(ctx); err != nil {
		return false, err
	}
	m := b.shared
	m.mu.Lock()
	is, ok := m.members[k]
	ok = ok && m.gen == b.gen
	m.mu.Unlock()
	if !ok {
		var err error
		if is, err = b.Reader.IsMember(ctx, user, matterID); err != nil {
			return false, err
		}
		m.mu.Lock()
		if m.gen == b.gen {
			if len(m.members) >= maxAccessMemo {
				clear(m.members)
			}
			m.members[k] = is
		}
		m.mu.Unlock()
	}
	b.seen[k] = is
	return is, nil
}

// PreloadMembers hands on to the store the memberships neither this
// batch nor the memo (at the batch's generation) knows.
func (b *batchMemo) PreloadMembers(ctx context.Context, users, matterIDs []string) error {
	if err := b.sync(ctx); err != nil {
		return err
	}
	var askUsers, askMatters []string
	m := b.shared
	m.mu.Lock()
	for i := range users {
		k := memberKey{users[i], matterIDs[i]}
		if _, ok := b.seen[k]; ok {
			continue
		}
		if _, ok := m.members[k]; ok && m.gen == b.gen {
			continue
		}
		askUsers, askMatters = append(askUsers, k.user), append(askMatters, k.matter)
	}
	m.mu.Unlock()
	if len(askUsers) == 0 {
		return nil
	}
	return b.Reader.PreloadMembers(ctx, askUsers, askMatters)
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
