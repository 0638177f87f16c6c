//go:build !race

package localfiles

// raceEnabled: the tests run under the race detector.
const raceEnabled = false
