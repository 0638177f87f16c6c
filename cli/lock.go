package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"casefile/ui"
	"casefile/vault"
)

// lockCommands are the commands of this file, for the command table.
func lockCommands() []Command {
	return []Command{
		{
			Name:    "lock",
			Usage:   "",
			Summary: "Lock the terminal UI running on this data directory at once (it asks for the passphrase again)",
			Run:     runLock,
		},
	}
}

// EnvIdleLock sets the idle time after which the UI locks (e.g. 5m; 0
// never locks by itself); the default is ui.DefaultIdleLock.
const EnvIdleLock = "CASEFILE_IDLE_LOCK"

// lockSocket is the unix socket in the data directory on which a running
// UI hears `casefile lock`. A socket, not a signal to a recorded process
// id: a stale id could name another program.
const lockSocket = "ui.sock"

// lockWait bounds how long `casefile lock` waits for the UI to answer.
const lockWait = 5 * time.Second

// listenLock opens the data directory's lock socket; each connection to it
// locks the UI. close stops listening and removes the socket.
func listenLock(dir string) (requests <-chan struct{}, closeFn func(), err error) {
	path := filepath.Join(dir, lockSocket)
	// A socket left by a UI that crashed: nobody listens on it.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			select {
			case ch <- struct{}{}:
			default: // a lock is already on its way
			}
			_, _ = c.Write([]byte("locked\n"))
			c.Close()
		}
	}()
	return ch, func() {
		ln.Close()
		<-done
		_ = os.Remove(path)
	}, nil
}

// idleLock reads $CASEFILE_IDLE_LOCK.
func idleLock(env *Env) (time.Duration, error) {
	v := env.Getenv(EnvIdleLock)
	if v == "" {
		return ui.DefaultIdleLock, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q is not a duration like 10m (0 never locks)", EnvIdleLock, v)
	}
	return d, nil
}

// lockOptions builds the UI's lock: idle time, the socket, and a check of
// the passphrase against the data directory's key.
func lockOptions(env *Env, dir string) (*ui.LockOptions, func(), error) {
	idle, err := idleLock(env)
	if err != nil {
		return nil, nil, err
	}
	info, err := vault.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	keys := env.keys
	lo := &ui.LockOptions{Idle: idle, NoPassphrase: info.Generated, Unlock: func(p string) error {
		k, err := vault.Unlock(dir, []byte(p))
		if err != nil {
			return err
		}
		if keys != nil && !vault.SameKey(k, keys) {
			return vault.ErrWrongPassphrase
		}
		return nil
	}}
	closeFn := func() {}
	if reqs, c, err := listenLock(dir); err == nil {
		lo.Requests, closeFn = reqs, c
	} else {
		fmt.Fprintf(env.Stderr, "casefile: warning: 'casefile lock' will not reach this UI: %v\n", err)
	}
	return lo, closeFn, nil
}

func runLock(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if err := parseNoArgs(fs, args, "lock"); err != nil {
		return err
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: lockWait}
	c, err := d.DialContext(ctx, "unix", filepath.Join(cfg.DataDir, lockSocket))
	if err != nil {
		return fmt.Errorf("no casefile UI is running on %s", cfg.DataDir)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(lockWait))
	buf := make([]byte, 16)
	if n, _ := c.Read(buf); n == 0 {
		return errors.New("the casefile UI did not answer; it may not be locked")
	}
	fmt.Fprintln(env.Stdout, "The casefile UI is locked.")
	return nil
}
