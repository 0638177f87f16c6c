//go:build !race

package syncer_test

// raceDetector: the tests run under the race detector.
const raceDetector = false
