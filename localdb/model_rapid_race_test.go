//go:build race

package localdb_test

// rounds of rapid.Repeat per history: one under the race detector, which
// slows the pure-Go SQLite several times over.
const rounds = 1
