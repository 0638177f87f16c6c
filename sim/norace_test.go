//go:build !race

package sim

// raceEnabled is true under -race: the sets shrink to fit the time budget.
const raceEnabled = false
