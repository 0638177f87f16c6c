package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
	"casefile/transfer"
)

// Exit codes of the sync commands, beyond 1 (an error) and 2 (bad usage).
const (
	exitUnreachable = 3 // the server could not be reached, or kept failing
	exitLoggedOut   = 4 // not logged in, or the server refused the token
	exitRetrying    = 5 // the cycle ran but changes are still waiting to be sent
	exitFailed      = 6 // the cycle ran but changes or files the server refused wait (failed)
	exitConflicts   = 7 // the cycle ran but conflicts wait for review
)

// syncCommands are the commands of this file, for the command table.
func syncCommands() []Command {
	return []Command{
		{
			Name:  "sync",
			Usage: "[--timeout D] [--watch] [--records-only]",
			Summary: "Send saved changes to the server and fetch the server's changes " +
				"(exit 3: server unreachable, 4: not logged in, 5: changes still waiting to be sent, 6: changes refused, 7: conflicts to review)",
			Run: runSync,
		},
	}
}

func runSync(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	timeout := fs.Duration("timeout", 0, "give up after this long (e.g. 30s, 2m); 0 waits as long as it takes")
	watch := fs.Bool("watch", false, "keep syncing in the background until interrupted, one line per cycle")
	recordsOnly := fs.Bool("records-only", false, "sync records only; attached files stay queued")
	if err := parseNoArgs(fs, args, "sync"); err != nil {
		return err
	}
	if *timeout < 0 {
		return usageError("--timeout must be positive, not %s", *timeout)
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	creds, err := loadCredentials(cfg)
	if errors.Is(err, config.ErrNoCredentials) {
		return &ExitError{Code: exitLoggedOut, Err: err}
	}
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	s := syncer.New(db, syncOptions(env, cfg, creds))
	if *watch {
		kick, stopFiles := func() {}, func() {}
		if !*recordsOnly {
			files, err := openFiles(ctx, env, db, cfg)
			if err != nil {
				return err
			}
			eng, err := transferEngine(db, files, cfg, progressPrinter(env.Stderr))
			if err != nil {
				return err
			}
			// Files move after every cycle, and between cycles when due.
			r := transfer.NewRunner(eng, cfg.SyncInterval)
			r.Start(ctx)
			defer r.Close()
			kick = r.Kick
			stopFiles = r.Close
		}
		err := watchSync(ctx, env.Stdout, s, kick)
		if errors.Is(err, errWatchRevoked) {
			// watchSync closed the syncer; the files stop too, then the
			// device obeys as a single sync would.
			stopFiles()
			return wipeRevoked(ctx, env, db, cfg.DataDir)
		}
		return err
	}
	restoreGC := raiseGC(syncGCPercent, syncMemoryLimit)
	sum, err := s.RunOnce(ctx)
	restoreGC()
	defer s.Close()
	if isDeviceRevoked(err) {
		s.Close()
		return wipeRevoked(ctx, env, db, cfg.DataDir)
	}
	line := summaryLine(sum)
	if err == nil && !*recordsOnly {
		var fsum transfer.Summary
		fsum, err = syncFiles(ctx, env, db, cfg)
		line += filesLine(fsum)
	}
	fmt.Fprintln(env.Stdout, line)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		// Not --timeout's deadline (there may be none): an exchange
		// with the server went silent for request_timeout.
		return &ExitError{Code: exitUnreachable, Err: fmt.Errorf("the server did not answer within %s (request_timeout); your changes are kept and the next sync continues", cfg.RequestTimeout)}
	}
	if err != nil {
		return syncError(err, *timeout)
	}
	// Read past --timeout's end: the run finished, and its outcome, not
	// the deadline, is what the exit says.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	st, err := db.Status(sctx)
	if err != nil {
		return fmt.Errorf("read sync status: %w", err)
	}
	return syncOutcome(sum, st, *recordsOnly)
}

// syncOutcome is a finished sync's exit, from what the device holds once
// it ran, not only from what the run met: a refusal of an earlier sync
// that still waits keeps the exit at 6. In order: changes or files the
// server refused (6), conflicts to review (7), changes or files still
// waiting to be sent (5). With recordsOnly, files are left out.
func syncOutcome(sum syncer.Summary, st localdb.Status, recordsOnly bool) error {
	// FailedOps counts too the refused changes whose record left the
	// device (its matter's access revoked): no record shows them failed.
	refused := max(sum.Failed, st.Counts[model.StateFailed], st.FailedOps)
	waiting := max(sum.Retrying, st.Counts[model.StatePending]+st.Counts[model.StateSyncing]+st.Counts[model.StateRetrying])
	filesRefused, filesWaiting := st.UploadsFailed, st.UploadsWaiting
	if recordsOnly {
		filesRefused, filesWaiting = 0, 0
	}
	switch {
	case refused > 0 && filesRefused > 0:
		return &ExitError{Code: exitFailed, Err: fmt.Errorf("the server refused %d change(s) and %d file(s); run 'casefile queue' and 'casefile files' to see why, then retry or discard them", refused, filesRefused)}
	case refused > 0:
		return &ExitError{Code: exitFailed, Err: fmt.Errorf("the server refused %d change(s); run 'casefile queue' to see why, then retry or discard them", refused)}
	case filesRefused > 0:
		return &ExitError{Code: exitFailed, Err: fmt.Errorf("the server refused %d file(s); run 'casefile files' to see why, then detach them or attach them again", filesRefused)}
	case st.Conflicts > 0:
		return &ExitError{Code: exitConflicts, Err: fmt.Errorf("%d change(s) conflict with newer changes on the server and wait for your review; run 'casefile conflicts'", st.Conflicts)}
	case waiting > 0:
		return &ExitError{Code: exitRetrying, Err: fmt.Errorf("%d change(s) are still waiting to be sent; run 'casefile queue' to see why", waiting)}
	case filesWaiting > 0:
		return &ExitError{Code: exitRetrying, Err: fmt.Errorf("%d file(s) are still waiting to be uploaded; run 'casefile files' to see why", filesWaiting)}
	}
	return nil
}

// syncFiles moves attached files' bytes after the records, with progress
// on stderr.
func syncFiles(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config) (transfer.Summary, error) {
	files, err := openFiles(ctx, env, db, cfg)
	if err != nil {
		return transfer.Summary{}, err
	}
	eng, err := transferEngine(db, files, cfg, progressPrinter(env.Stderr))
	if err != nil {
		return transfer.Summary{}, err
	}
	return eng.RunOnce(ctx)
}

// filesLine is what a cycle adds to its line about files, when it moved
// or left any.
func filesLine(s transfer.Summary) string {
	if s.Uploaded+s.Downloaded+s.Waiting+s.Failed == 0 {
		return ""
	}
	line := fmt.Sprintf("; files: uploaded %d, downloaded %d", s.Uploaded, s.Downloaded)
	if s.Waiting > 0 {
		line += fmt.Sprintf(", waiting %d", s.Waiting)
	}
	if s.Failed > 0 {
		line += fmt.Sprintf(", failed %d", s.Failed)
	}
	return line
}

// syncOptions builds the syncer's options from the settings and credentials.
func syncOptions(env *Env, cfg config.Config, creds credentials) syncer.Options {
	o := syncer.Options{
		Server:         creds.Server,
		User:           creds.User,
		Token:          creds.Token,
		Device:         creds.Device,
		BatchSize:      cfg.BatchSize,
		PollInterval:   cfg.SyncInterval,
		RequestTimeout: cfg.RequestTimeout,
	}
	if env.Getenv(EnvSyncCompression) == "off" {
		hc := apiclient.DefaultHTTPClient()
		hc.Transport.(*http.Transport).DisableCompression = true
		o.HTTPClient = hc
	}
	return o
}

// EnvSyncCompression set to "off" makes the client send and ask for plain
// (uncompressed) bodies, as a client before compressed transfer did; the
// benchmarks measure both.
const EnvSyncCompression = "CASEFILE_SYNC_COMPRESSION"

// summaryLine is the one line a cycle prints.
func summaryLine(sum syncer.Summary) string {
	line := fmt.Sprintf("pushed %d, pulled %d, conflicts %d, failed %d", sum.Pushed, sum.Pulled, sum.Conflicts, sum.Failed)
	if sum.Retrying > 0 {
		line += fmt.Sprintf(", retrying %d", sum.Retrying)
	}
	return line
}

// syncError turns a failed cycle into a sentence and an exit code.
func syncError(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, syncer.ErrNotLoggedIn), errors.Is(err, config.ErrNoCredentials):
		return &ExitError{Code: exitLoggedOut, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &ExitError{Code: exitUnreachable, Err: fmt.Errorf("the sync did not finish within %s; your changes are kept and the next sync continues", timeout)}
	case errors.Is(err, context.Canceled):
		return &ExitError{Code: exitUnreachable, Err: errors.New("the sync was interrupted; your changes are kept and the next sync continues")}
	case errors.Is(err, syncer.ErrWorkOffline):
		return &ExitError{Code: exitUnreachable, Err: err}
	case errors.Is(err, localdb.ErrBadCursor):
		// Damage on this computer: neither the server nor time will
		// mend it, so it is no "unreachable" (3) to wait out.
		return &ExitError{Code: 1, Err: err}
	}
	var e *apiclient.Error
	if errors.As(err, &e) {
		switch e.Class {
		case apiclient.ClassUnauthorized:
			return &ExitError{Code: exitLoggedOut, Err: apiclient.Refused(err)}
		case apiclient.ClassUnreachable:
			return &ExitError{Code: exitUnreachable, Err: fmt.Errorf("%s Your changes are kept on this computer; sync again when the network is back", e.Message)}
		default:
			return &ExitError{Code: exitUnreachable, Err: fmt.Errorf("%s Your changes are kept on this computer; sync again later", e.Message)}
		}
	}
	return err
}

// watchSync runs the background syncer until ctx ends, printing a line per
// cycle and every error. It returns when the token is refused.
// errWatchRevoked ends watchSync when the server revoked the device.
var errWatchRevoked = errors.New("this device was revoked")

// revokedGrace is how long watch waits, once logged out, for the syncer to
// say why: it tells of a revocation right after the refusal that logged
// it out, so a moment is plenty.
const revokedGrace = 2 * time.Second

func watchSync(ctx context.Context, w io.Writer, s *syncer.Syncer, afterCycle func()) error {
	if s.Connectivity() == syncer.LoggedOut {
		return &ExitError{Code: exitLoggedOut, Err: syncer.ErrNotLoggedIn}
	}
	s.Start(ctx)
	defer s.Close()
	fmt.Fprintf(w, "%s watching for changes (Ctrl-C stops)\n", clock(time.Now()))
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-s.Events():
			if !ok {
				return nil
			}
			switch ev.Kind {
			case syncer.EventCycle:
				line := summaryLine(ev.Counts)
				if ev.Err != "" {
					line += " — " + safetext.Line(ev.Err)
				}
				fmt.Fprintf(w, "%s %s\n", clock(ev.At), line)
				afterCycle()
			case syncer.EventConnectivity:
				if ev.Connectivity == syncer.Syncing {
					continue
				}
				fmt.Fprintf(w, "%s %s\n", clock(ev.At), ev.Connectivity)
				if ev.Connectivity == syncer.LoggedOut {
					if revokedSoon(ctx, s.Events()) {
						return errWatchRevoked
					}
					return &ExitError{Code: exitLoggedOut, Err: apiclient.ErrSessionExpired}
				}
			case syncer.EventRevoked:
				return errWatchRevoked
			case syncer.EventError:
				fmt.Fprintf(w, "%s %s\n", clock(ev.At), safetext.Line(ev.Err))
			}
		}
	}
}

// revokedSoon reads events for revokedGrace and reports whether one says
// the device was revoked.
func revokedSoon(ctx context.Context, events <-chan syncer.Event) bool {
	t := time.NewTimer(revokedGrace)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case ev, ok := <-events:
			if !ok {
				return false
			}
			if ev.Kind == syncer.EventRevoked {
				return true
			}
		}
	}
}

func clock(t time.Time) string { return t.Local().Format("15:04:05") }

// credentials are the saved login of the data directory.
type credentials = config.Credentials

// loadCredentials reads the saved login; config.ErrNoCredentials when
// nobody has logged in from this data directory.
func loadCredentials(cfg config.Config) (credentials, error) {
	c, err := config.LoadCredentials(cfg.DataDir)
	if err != nil && !errors.Is(err, config.ErrNoCredentials) {
		return c, err
	}
	return c, err
}
