//go:build !unix

package cli

// lockServeDir has no lock to take where flock(2) is not to be had.
func lockServeDir(string) (func(), error) { return func() {}, nil }

// lockMoveDir has no lock to take where flock(2) is not to be had.
func lockMoveDir(string, bool) (func(), error) { return func() {}, nil }

// waitLockIn has no lock to take where flock(2) is not to be had.
func waitLockIn(string, string) (func(), error) { return func() {}, nil }
