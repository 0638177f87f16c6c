package syncer

import "sync"

// growAfter is how many exchanges in a row must succeed at a size before
// it doubles again: one success on a link that just failed proves little,
// and every failed try costs a whole request timeout.
const growAfter = 4

// adaptiveSize is the number of records a pull page asks for, or of ops a
// push batch carries. It halves after the link broke an exchange (a
// timeout, a connection cut or reset mid-request: down to 1) and doubles
// back towards its maximum after successes, so that a link too slow or
// too flaky for a full page still moves a smaller one instead of fetching
// and abandoning the same page forever.
type adaptiveSize struct {
	mu   sync.Mutex
	max  int
	n    int
	wins int // successes in a row at n
}

func newAdaptiveSize(maxSize int) *adaptiveSize {
	maxSize = max(maxSize, 1)
	return &adaptiveSize{max: maxSize, n: maxSize}
}

// size is how many to ask for now.
func (a *adaptiveSize) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// full reports whether the size is back at its maximum.
func (a *adaptiveSize) full() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n == a.max
}

// restore starts again from a size an earlier process learned, within
// today's maximum (the configured batch may have changed since).
func (a *adaptiveSize) restore(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n = min(a.max, max(1, n))
	a.wins = 0
}

// shrink halves the size after the link broke an exchange of n things,
// and reports whether the size changed. An exchange smaller than the
// current size (a short last page, a batch split) says nothing about the
// current size, beyond that n is too much.
func (a *adaptiveSize) shrink(n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.n
	a.n = max(1, min(a.n, n)/2)
	a.wins = 0
	return a.n != old
}

// succeeded counts a successful exchange and grows the size after
// growAfter of them in a row; it reports whether the size changed.
func (a *adaptiveSize) succeeded() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == a.max {
		return false
	}
	a.wins++
	if a.wins >= growAfter {
		a.n = min(a.max, a.n*2)
		a.wins = 0
		return true
	}
	return false
}
