package cli

import "errors"

// errServeRunning is what lockServeDir's error is when a casefile serve
// holds the data directory.
var errServeRunning = errors.New("a casefile serve is running on the data directory")
