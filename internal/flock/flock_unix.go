//go:build unix

// Package flock takes advisory locks on open files with flock(2). A lock
// belongs to the open file, not to the process: two opens of one file in
// a process exclude each other too, and the lock goes when the file is
// closed or the process ends, however it ends (kill -9, a power cut).
package flock

import (
	"errors"
	"os"
	"syscall"
)

// Supported says whether locks are taken on this platform.
const Supported = true

// ErrHeld is Lock's answer, when told not to wait, while another open
// file holds a lock that excludes the one asked for.
var ErrHeld = syscall.EWOULDBLOCK

// Lock takes the lock on f, shared or exclusive, waiting for it when wait
// is set, else failing with ErrHeld while another open file holds it.
func Lock(f *os.File, shared, wait bool) error {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how) // #nosec G115 -- a file descriptor
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
