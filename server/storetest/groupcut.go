package storetest

import (
	"context"
	"sync/atomic"

	"casefile/internal/faultproxy"
	"casefile/server/store"
)

// GroupCut is a store whose next Cuts push groups have every
// connection through Link cut right after the group's first statement
// (its preload, which with PostgreSQL goes with BEGIN and takes the
// head's lock): the group's transaction has begun and dies before its
// COMMIT is sent. Only push groups preload, so other writes pass.
type GroupCut struct {
	store.Store
	Link  *faultproxy.Link
	Cuts  atomic.Int32 // groups still to cut
	Fired atomic.Int32 // groups cut
	Runs  atomic.Int32 // groups' preloads made
}

func (g *GroupCut) Write(ctx context.Context, fn func(store.Tx) error) error {
	return g.Store.Write(ctx, func(tx store.Tx) error { return fn(&cutAfterPreload{Tx: tx, g: g}) })
}

// cutAfterPreload is a write transaction of GroupCut's.
type cutAfterPreload struct {
	store.Tx
	g *GroupCut
}

func (t *cutAfterPreload) Preload(ctx context.Context, a store.Ahead) error {
	t.g.Runs.Add(1)
	err := t.Tx.Preload(ctx, a)
	if err == nil && t.g.take() {
		t.g.Link.Cut()
		t.g.Fired.Add(1)
	}
	return err
}

// take takes one of the cuts left, if any.
func (g *GroupCut) take() bool { return takeOne(&g.Cuts) }

// takeOne takes one of the n left, if any.
func takeOne(n *atomic.Int32) bool {
	for {
		left := n.Load()
		if left <= 0 {
			return false
		}
		if n.CompareAndSwap(left, left-1) {
			return true
		}
	}
}

// ReadCut is a store whose next Cuts reads that ask for the head first
// (a pull does) have every connection through Link cut right after the
// head's answer: the read's snapshot has begun and dies before it ends,
// as when PostgreSQL restarts or the network resets it mid-request.
type ReadCut struct {
	store.Store
	Link  *faultproxy.Link
	Cuts  atomic.Int32 // reads still to cut
	Fired atomic.Int32 // reads cut
}

func (c *ReadCut) Read(ctx context.Context, fn func(store.Reader) error) error {
	return c.Store.Read(ctx, func(r store.Reader) error { return fn(&cutAfterHead{Reader: r, c: c}) })
}

// cutAfterHead is a read of ReadCut's.
type cutAfterHead struct {
	store.Reader
	c *ReadCut
}

func (r *cutAfterHead) Head(ctx context.Context) (store.Head, error) {
	h, err := r.Reader.Head(ctx)
	if err == nil && takeOne(&r.c.Cuts) {
		r.c.Link.Cut()
		r.c.Fired.Add(1)
	}
	return h, err
}
