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
func (g *GroupCut) take() bool {
	for {
		n := g.Cuts.Load()
		if n <= 0 {
			return false
		}
		if g.Cuts.CompareAndSwap(n, n-1) {
			return true
		}
	}
}
