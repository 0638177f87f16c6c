package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"casefile/server/store"
)

// arrivalFaults is the server's record store, whose audit row of a file's
// arrival fails the first time for a third of the attachments (drawn from
// the seed and the attachment, not the stream): the row cannot be written
// after the file store committed the bytes, as when the database fails
// between the two or the server dies there. The device is told to try
// again and finds its upload complete; compaction (auditArrivals) must
// write the row.
type arrivalFaults struct {
	store.Store
	seed  uint64
	stats *stats
	*arrivalsFailed
}

// arrivalsFailed holds which arrivals' audit rows failed already, across
// the server's restarts.
type arrivalsFailed struct {
	mu     sync.Mutex
	failed map[string]bool
}

var errArrivalFault = errors.New("simulated: the audit row of a file's arrival could not be written")

func (a *arrivalFaults) Write(ctx context.Context, fn func(store.Tx) error) error {
	return a.Store.Write(ctx, func(tx store.Tx) error { return fn(&arrivalTx{Tx: tx, a: a}) })
}

// fails says whether the arrival of target fails now.
func (a *arrivalFaults) fails(target string) bool {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/arrival/%s", a.seed, target)
	if h.Sum64()%3 != 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed[target] {
		return false
	}
	a.failed[target] = true
	a.stats.inc("fault: file arrival's audit row failed", 1)
	return true
}

type arrivalTx struct {
	store.Tx
	a *arrivalFaults
}

func (t *arrivalTx) Savepoint(ctx context.Context, fn func(store.Tx) error) error {
	return t.Tx.Savepoint(ctx, func(tx store.Tx) error { return fn(&arrivalTx{Tx: tx, a: t.a}) })
}

func (t *arrivalTx) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if e.Action == "file_uploaded" && t.a.fails(e.Target) {
		return errArrivalFault
	}
	return t.Tx.AppendAudit(ctx, e)
}
