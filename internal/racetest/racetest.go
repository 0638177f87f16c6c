// Package racetest lets a test that exercises one goroutine's work step
// aside under the race detector, for make test to run it without it.
//
// The race detector slows the pure-Go SQLite ten to thirty times: a test
// that drives a database from one goroutine (a model of the store, a
// thousand edits and checks) spends minutes under it and can meet no race.
// Such a test calls Plain; make test runs it in its plain stage instead,
// at full size, naming it in the Makefile's PLAIN list (TestPlainListed
// keeps the list and the calls in step).
package racetest

import "testing"

// Plain skips t under the race detector; make test runs it without.
func Plain(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("one goroutine's work through SQLite: make test runs it without -race (the Makefile's PLAIN)")
	}
}
