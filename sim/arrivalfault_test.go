package sim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"casefile/server/blobstore"
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

// fails says whether the arrival of target fails now: the first time
// for a third of the targets, drawn from the seed, the kind of fault and
// the target.
func (f *arrivalsFailed) fails(seed uint64, kind, target string) bool {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/%s/%s", seed, kind, target)
	if h.Sum64()%3 != 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := kind + "/" + target
	if f.failed[key] {
		return false
	}
	f.failed[key] = true
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
	if e.Action == "file_uploaded" && t.a.fails(t.a.seed, "arrival", e.Target) {
		t.a.stats.inc("fault: file arrival's audit row failed", 1)
		return errArrivalFault
	}
	return t.Tx.AppendAudit(ctx, e)
}

// noteFaults is the server's file store, whose note of a file's arrival
// to be audited cannot be cleared (Arrived) the first time for a third
// of the attachments (drawn apart from arrivalFaults): the arrival's
// audit row was written and the database failed before the note went.
// Compaction (auditArrivals) then finds the note, and must not audit the
// arrival again.
type noteFaults struct {
	blobstore.Store
	seed  uint64
	stats *stats
	*arrivalsFailed
}

var errNoteFault = errors.New("simulated: the note of a file's arrival could not be cleared")

// statNotesKept counts the notes of arrivals left after their audit row
// was written (noteFaults): the scenarios must draw them.
const statNotesKept = "fault: a file arrival's note kept after its audit row"

func (n *noteFaults) Arrived(ctx context.Context, recordID string) error {
	if n.fails(n.seed, "note", recordID) {
		n.stats.inc(statNotesKept, 1)
		return errNoteFault
	}
	return n.Store.Arrived(ctx, recordID)
}
