//go:build race

package localdb

// raceDetector: the tests run under the race detector.
const raceDetector = true
