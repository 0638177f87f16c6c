package syncer

import (
	"testing"
	"time"
)

func TestBackoffCeilingDoublesUpToCap(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, w := range want {
		if got := b.Ceiling(i); got != w*time.Second {
			t.Errorf("Ceiling(%d) = %v, want %v", i, got, w*time.Second)
		}
	}
	if got := b.Ceiling(1000); got != 10*time.Second {
		t.Errorf("Ceiling(1000) = %v: overflowed", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	var draw float64
	b := Backoff{Base: time.Second, Cap: time.Minute, Rand: func() float64 { return draw }}
	tests := []struct {
		attempt int
		draw    float64
		want    time.Duration
	}{
		{0, 0, 500 * time.Millisecond}, // never below Base/2: no spinning
		{0, 0.9, 900 * time.Millisecond},
		{3, 0.5, 4 * time.Second},
		{3, 0.01, 500 * time.Millisecond},
		{20, 0.5, 30 * time.Second},
	}
	for _, tt := range tests {
		draw = tt.draw
		if got := b.Delay(tt.attempt); got != tt.want {
			t.Errorf("Delay(%d) with draw %v = %v, want %v", tt.attempt, tt.draw, got, tt.want)
		}
	}
}

func TestBackoffSpreadsClients(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: time.Minute, Rand: LockedRand(42)}
	seen := map[time.Duration]bool{}
	for range 100 {
		d := b.Delay(5)
		if d < 500*time.Millisecond || d >= 32*time.Second {
			t.Fatalf("Delay(5) = %v, outside [0.5s, 32s)", d)
		}
		seen[d] = true
	}
	if len(seen) < 90 {
		t.Errorf("only %d distinct delays in 100 draws: no jitter", len(seen))
	}
	// Same seed, same delays: a failing run can be replayed.
	a, c := Backoff{Base: time.Second, Cap: time.Minute, Rand: LockedRand(7)}, Backoff{Base: time.Second, Cap: time.Minute, Rand: LockedRand(7)}
	for i := range 10 {
		if a.Delay(i) != c.Delay(i) {
			t.Fatalf("seeded delays differ at %d", i)
		}
	}
}
