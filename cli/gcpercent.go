package cli

import (
	"os"
	"runtime/debug"
	"sync"
)

// importGCPercent is the collector's target (GOGC) while an import runs.
// Parsing, encoding and sealing allocate fast while little stays live (a
// batch or two, ~20 MB for 1,000 notes), so at the default of 100 the
// collector ran ~15 times a second, each time preempting the writing
// goroutine inside SQLite. At 400 the heap may grow to five times what is
// live (~100 MB) and a 100,000-note import spent ~10 % less CPU and wall
// time, measured against 100 with both imports running side by side.
const importGCPercent = 400

// syncGCPercent is the collector's target while `casefile sync` runs one
// sync, within syncMemoryLimit. What stays live is a push's batches in
// flight (500 ops each, with their texts and answers) or a pull's pages,
// made and dropped fast. `casefile bench --only S2,S3` (10,000 and 100,000
// notes), against the defaults:
//   - a push spent ~10 % less of the client's CPU (72-75 µs an op against
//     81-85) for a peak RSS of ~98 MiB against ~74;
//   - a fresh device's first sync of 100,000 notes peaked at 319 MiB with
//     400 alone, against 172: the limit keeps it at ~178 (2-4 % less CPU).
//
// A sync that keeps running (--watch, the terminal UI) keeps the defaults.
const (
	syncGCPercent   = 400
	syncMemoryLimit = 128 << 20
)

// raised holds what the collector's settings were before the first of
// the raiseGC calls now in force: commands run one to a process, but tests
// run several at once, and each putting back what it found would leave
// the raised settings in force after the last.
var raised struct {
	sync.Mutex
	n            int
	percent      int
	limit        int64
	limitChanged bool
}

// raiseGC raises the collector's target to percent, and when limit > 0
// bounds the heap softly to limit bytes (debug.SetMemoryLimit), unless
// GOGC or GOMEMLIMIT was set by whoever started casefile; restore puts
// back what was before. While one raise is in force another changes
// nothing, and the last restore puts back what was before the first.
func raiseGC(percent int, limit int64) (restore func()) {
	_, gogc := os.LookupEnv("GOGC")
	_, memlimit := os.LookupEnv("GOMEMLIMIT")
	if gogc || memlimit {
		return func() {}
	}
	raised.Lock()
	defer raised.Unlock()
	if raised.n == 0 {
		raised.limitChanged = limit > 0
		raised.limit = debug.SetMemoryLimit(-1) // -1 reads without changing
		if raised.limitChanged {
			debug.SetMemoryLimit(limit)
		}
		raised.percent = debug.SetGCPercent(percent)
	}
	raised.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			raised.Lock()
			defer raised.Unlock()
			if raised.n--; raised.n > 0 {
				return
			}
			debug.SetGCPercent(raised.percent)
			if raised.limitChanged {
				debug.SetMemoryLimit(raised.limit)
			}
		})
	}
}
