package syncer

import "errors"

// ErrWorkOffline is returned by RunOnce while work-offline mode is on.
var ErrWorkOffline = errors.New("work offline is on: no network traffic until it is turned off")

// ErrNotLoggedIn is returned when there is no server or token to sync with.
var ErrNotLoggedIn = errors.New("not logged in: run 'casefile login --server URL --user NAME' first")
