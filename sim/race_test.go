//go:build race

package sim

import "time"

// raceEnabled is true under -race: the sets shrink to fit the time budget.
const raceEnabled = true

// requestTimeout is every simulated device's limit on one exchange. A
// stall costs this much wall time, so it is short; no unfaulted exchange
// comes near it (each run reports the slowest), under -race where everything runs ten times slower.
const requestTimeout = 3 * time.Second
