//go:build !race

package localdb_test

// rounds of rapid.Repeat per history: two reach deeper states.
const rounds = 2
