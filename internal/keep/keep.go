// Package keep holds a few values between uses, across garbage
// collections.
//
// A sync.Pool lets every other collection empty it. A sync collects more
// often than it sends a request: with a pool, nearly every request built
// a gzip compressor (most of a megabyte) and grew its answer's buffer
// from nothing again (docs/benchmarks.md, sixteenth round). Values in a
// Few stay until taken.
package keep

// Few keeps up to its capacity of values for reuse.
type Few[T any] chan T

// New returns a Few keeping at most n values.
func New[T any](n int) Few[T] { return make(Few[T], n) }

// Get takes a kept value; ok is false when none is kept.
func (f Few[T]) Get() (v T, ok bool) {
	select {
	case v = <-f:
		return v, true
	default:
		return v, false
	}
}

// Put keeps v for the next Get, or drops it when as many are kept as fit.
func (f Few[T]) Put(v T) {
	select {
	case f <- v:
	default:
	}
}
