package benchrun

import (
	"maps"
	"testing"
)

// TestAgainstSQLite: S6 says how many times slower than SQLite each part
// ran, from the figures of the same run, and says nothing of a part whose
// SQLite figure is missing.
func TestAgainstSQLite(t *testing.T) {
	s := map[string]map[string]float64{
		"S2": {"notes_per_s": 10000},
		"S3": {"notes_per_s": 26000},
		"S5": {"push_p99_ms": 20},
		"S6": {"push_notes_per_s": 8000, "pull_notes_per_s": 26000, "replicas2_push_p99_ms": 44.4},
	}
	againstSQLite(s)
	want := map[string]float64{"push_x_sqlite": 1.25, "pull_x_sqlite": 1, "replicas2_push_p99_x_sqlite": 2.22}
	for k, v := range want {
		if got, ok := s["S6"][k]; !ok || got != v {
			t.Errorf("S6.%s = %v, %v; want %v", k, got, ok, v)
		}
	}

	// S6 alone (--only S6): no SQLite figure, no ratio.
	alone := map[string]map[string]float64{"S6": {"push_notes_per_s": 8000, "pull_notes_per_s": 26000, "replicas2_push_p99_ms": 44.4}}
	before := maps.Clone(alone["S6"])
	againstSQLite(alone)
	if !maps.Equal(alone["S6"], before) {
		t.Errorf("S6 alone gained figures: %v", alone["S6"])
	}
	// S5 without S6 (no PostgreSQL): nothing is added.
	noPG := map[string]map[string]float64{"S5": {"push_p99_ms": 20}}
	againstSQLite(noPG)
	if _, ok := noPG["S6"]; ok {
		t.Errorf("S6 appeared without its run: %v", noPG)
	}
}
