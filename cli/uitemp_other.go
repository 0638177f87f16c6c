//go:build !unix

package cli

import "os"

// lockUI has no lock to take where flock(2) is not to be had.
func lockUI(*os.File) error { return nil }

// tryLockUI never finds a UI's lock free where flock(2) is not to be
// had: no UI's files can be told from a running one's.
func tryLockUI(*os.File) (bool, error) { return false, nil }
