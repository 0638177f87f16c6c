package localdb_test

import (
	"runtime"
	"strings"
	"sync"
)

// unsyncedByDesign are the functions whose commits do not wait for the
// disk, and why they may not: the search index's catch-up writes entries
// derived from committed rows (a power cut keeps the backlog rows they
// would have removed), and an import's batches are synced together at
// its end (SyncWAL), before it says it is done.
var unsyncedByDesign = []string{
	"localdb.(*DB).catchUpSearch",
	"localdb.(*DB).WriteImportUnsynced",
}

// commitWatch keeps every commit of a history's handles that did not wait
// for the disk and was made by no function in unsyncedByDesign: a user's
// write, a batch's claim, a push's answers, a pull page, an undo, a
// resolution, a repair. Each is something the device told its user or
// the server, which a power cut must not take back. Any history's step
// that commits one unsynced fails the check after it.
type commitWatch struct {
	mu       sync.Mutex
	unsynced []string // the functions that committed each, innermost first
}

func (w *commitWatch) heard(durable bool) {
	if durable {
		return
	}
	pcs := make([]uintptr, 48)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	var chain []string
	for {
		f, more := frames.Next()
		for _, name := range unsyncedByDesign {
			if strings.HasSuffix(f.Function, name) {
				return
			}
		}
		if strings.HasPrefix(f.Function, "casefile/") {
			chain = append(chain, strings.TrimPrefix(f.Function, "casefile/"))
		}
		if !more {
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unsynced = append(w.unsynced, strings.Join(chain, " < "))
}

// taken returns the unsynced commits kept since the last call, and
// forgets them.
func (w *commitWatch) taken() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.unsynced
	w.unsynced = nil
	return u
}
