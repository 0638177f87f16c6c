package syncer

import "sync"

// growAfter is how many exchanges in a row must succeed at a size before
// it doubles again: one success on a link that just failed proves little,
// and every failed try costs a whole request timeout.
const growAfter = 4

// adaptiveSize is the number of records a pull page asks for, or of ops a
// push batch carries. It halves after an exchange timed out (down to 1)
// and doubles back towards its maximum after successes, so that a link
// too slow for a full page still moves a smaller one instead of fetching
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

// timedOut halves the size after an exchange of n things timed out. An
// exchange smaller than the current size (a short last page, a batch
// split) says nothing about the current size, beyond that n is too much.
func (a *adaptiveSize) timedOut(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n = max(1, min(a.n, n)/2)
	a.wins = 0
}

// succeeded counts a successful exchange and grows the size after
// growAfter of them in a row.
func (a *adaptiveSize) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == a.max {
		return
	}
	a.wins++
	if a.wins >= growAfter {
		a.n = min(a.max, a.n*2)
		a.wins = 0
	}
}
