//go:build !unix

// Package flock takes advisory locks on open files with flock(2); where
// there is no flock(2), Lock takes none and says so.
package flock

import (
	"errors"
	"os"
)

// Supported says whether locks are taken on this platform.
const Supported = false

// ErrHeld is Lock's answer, when told not to wait, while another open
// file holds a lock that excludes the one asked for.
var ErrHeld = errors.New("the file is locked")

// Lock takes no lock here: it answers errors.ErrUnsupported.
func Lock(*os.File, bool, bool) error { return errors.ErrUnsupported }
