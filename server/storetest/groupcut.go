package storetest

import (
	"context"
	"sync/atomic"

	"casefile/internal/faultproxy"
	"casefile/server/store"
)

// GroupCut is a store whose next push group, once armed, has every
// connection through Link cut right after the group's first statement
// (its preload, which with PostgreSQL goes with BEGIN and takes the
// head's lock): the group's transaction has begun and dies before its
// COMMIT is sent. Only push groups preload, so other writes pass.
type GroupCut struct {
	store.Store
	Link  *faultproxy.Link
	Armed atomic.Bool  // cut the next group's connections
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
	if err == nil && t.g.Armed.CompareAndSwap(true, false) {
		t.g.Link.Cut()
		t.g.Fired.Add(1)
	}
	return err
}
