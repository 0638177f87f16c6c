package benchrun

import (
	"slices"
	"testing"
	"time"
)

// A burst note's latency ends at the first arrival that holds it, however
// many notes that arrival brought and however long the burst went on.
func TestLatenciesFromArrivals(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	saved := []time.Time{ms(0), ms(10), ms(20), ms(30), ms(1000)}
	arrivals := []arrival{{1, ms(40)}, {3, ms(45)}, {4, ms(900)}, {5, ms(1020)}}
	got := latencies(saved, arrivals)
	want := []time.Duration{40, 35, 25, 870, 20}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("latencies %v, want %v", got, want)
	}
}
