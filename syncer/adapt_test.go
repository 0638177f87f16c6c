package syncer

import "testing"

func TestAdaptiveSizeShrinksToOneAndGrowsBack(t *testing.T) {
	a := newAdaptiveSize(500)
	var seen []int
	for a.size() > 1 {
		a.shrink(a.size())
		seen = append(seen, a.size())
	}
	if want := []int{250, 125, 62, 31, 15, 7, 3, 1}; len(seen) != len(want) {
		t.Fatalf("shrinking from 500: %v, want %v", seen, want)
	}
	a.shrink(1)
	if a.size() != 1 {
		t.Fatalf("after a timeout at 1 the size is %d, want it to stay 1", a.size())
	}
	// A success or three is not yet proof that the link got better.
	for range growAfter - 1 {
		a.succeeded()
	}
	if a.size() != 1 {
		t.Fatalf("after %d successes the size is %d, want 1", growAfter-1, a.size())
	}
	a.succeeded()
	if a.size() != 2 {
		t.Fatalf("after %d successes the size is %d, want 2", growAfter, a.size())
	}
	for range 100 {
		a.succeeded()
	}
	if a.size() != 500 || !a.full() {
		t.Fatalf("after many successes the size is %d, want it back at 500", a.size())
	}
	// A timed-out exchange smaller than the size halves from its own size.
	a.shrink(40)
	if a.size() != 20 {
		t.Fatalf("a 40-record page timed out at size 500: size %d, want 20", a.size())
	}
	// A failure resets the run of successes.
	a = newAdaptiveSize(8)
	a.shrink(8)
	a.succeeded()
	a.succeeded()
	a.shrink(8)
	for range growAfter - 1 {
		a.succeeded()
	}
	if a.size() != 2 {
		t.Fatalf("size %d, want 2: successes before a timeout do not count", a.size())
	}
}
