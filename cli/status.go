package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
)

// statusCommands are the commands of this file, for the command table.
func statusCommands() []Command {
	return []Command{
		{
			Name:    "status",
			Usage:   "[--json]",
			Summary: "Show the link to the server, the last sync and what waits to be sent",
			Run:     runStatus,
		},
	}
}

// statusProbeTimeout bounds the health probe of casefile status.
const statusProbeTimeout = 2 * time.Second

// statusReport is casefile status --json.
type statusReport struct {
	Online       bool   `json:"online"`
	Connectivity string `json:"connectivity"` // online, offline, degraded, logged-out
	Server       string `json:"server"`
	User         string `json:"user"`
	Device       string `json:"device"`
	Pending      int    `json:"pending"` // shown to people as "saved offline"
	Syncing      int    `json:"syncing"`
	Retrying     int    `json:"retrying"`
	Failed       int    `json:"failed"`
	// FailedChanges are the queued changes the server refused, which wait
	// for the person: also those whose record left the device.
	FailedChanges int        `json:"failed_changes"`
	Conflicts     int        `json:"conflicts"`
	Synced        int        `json:"synced"`
	LastSync      *time.Time `json:"last_sync"` // null before the first sync
	// OldestPendingAgeSeconds is how long the oldest queued change has
	// waited; null when nothing waits.
	OldestPendingAgeSeconds *float64 `json:"oldest_pending_age_seconds"`
	Outbox                  int      `json:"outbox"` // queued ops, whatever their state
	// Attached files: uploads still to send, and uploads and downloads
	// that failed for good (see casefile files).
	UploadsWaiting  int   `json:"uploads_waiting"`
	UploadsFailed   int   `json:"uploads_failed"`
	DownloadsFailed int   `json:"downloads_failed"`
	Cursor          int64 `json:"cursor"`
	ServerHead      int64 `json:"server_head"`
	// Problem says why the saved login does not work (expired, revoked,
	// or another user's token); empty when it works or was not asked.
	Problem string `json:"problem,omitempty"`
	// Damage names damage in the local database that stops syncing, with
	// its fix; empty when there is none.
	Damage string `json:"damage,omitempty"`
}

func runStatus(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parseNoArgs(fs, args, "status"); err != nil {
		return err
	}
	db, cfg, err := openChecked(ctx, env, 0)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return fmt.Errorf("read sync status: %w", err)
	}
	rep := statusReport{
		Pending:       st.Counts[model.StatePending],
		Syncing:       st.Counts[model.StateSyncing],
		Retrying:      st.Counts[model.StateRetrying],
		Failed:        st.Counts[model.StateFailed],
		FailedChanges: st.FailedOps,
		Conflicts:     st.Conflicts,
		Synced:        st.Counts[model.StateSynced],
		Outbox:        st.OutboxOps,
		Cursor:        st.Cursor,

		UploadsWaiting:  st.UploadsWaiting,
		UploadsFailed:   st.UploadsFailed,
		DownloadsFailed: st.DownloadsFailed,
	}
	if st.CursorErr != nil {
		rep.Damage = st.CursorErr.Error()
	}
	if !st.LastSync.IsZero() {
		t := st.LastSync
		rep.LastSync = &t
	}
	if !st.OldestPending.IsZero() {
		age := time.Since(st.OldestPending).Seconds()
		rep.OldestPendingAgeSeconds = &age
	}
	if head, err := db.Meta(ctx, syncer.MetaServerHead); err == nil && head != "" {
		rep.ServerHead, _ = strconv.ParseInt(head, 10, 64)
	}
	creds, err := loadCredentials(cfg)
	switch {
	case errors.Is(err, config.ErrNoCredentials):
		rep.Connectivity = string(syncer.LoggedOut)
		rep.Server = cfg.Server
	case err != nil:
		return err
	default:
		rep.Server, rep.User, rep.Device = creds.Server, creds.User, creds.Device
		rep.Connectivity, rep.Problem = probe(ctx, creds)
		rep.Online = rep.Connectivity == string(syncer.Online)
	}
	if *asJSON {
		return printJSON(env.Stdout, rep)
	}
	return printStatus(env, rep)
}

// probe asks the server's /healthz with a short timeout and, when it
// answers, whose the saved token is: a token refused, or another user's
// than the credentials name, is logged out with the reason in problem.
func probe(ctx context.Context, creds credentials) (conn, problem string) {
	c, err := apiclient.NewClient(creds.Server, creds.Token, nil, apiclient.WithUser(creds.User))
	if err != nil {
		return string(syncer.Offline), ""
	}
	ctx, cancel := context.WithTimeout(ctx, statusProbeTimeout)
	defer cancel()
	switch _, err := c.Health(ctx); {
	case err == nil:
	case apiclient.ClassOf(err) == apiclient.ClassFailing:
		return string(syncer.Degraded), ""
	default:
		return string(syncer.Offline), ""
	}
	who, err := c.Whoami(ctx)
	switch {
	case apiclient.ClassOf(err) == apiclient.ClassUnauthorized:
		return string(syncer.LoggedOut), apiclient.Refused(err).Error()
	case err == nil && who.User != creds.User:
		// A server that does not check the header still says whose it is.
		return string(syncer.LoggedOut), apiclient.WrongUser
	}
	return string(syncer.Online), ""
}

func printStatus(env *Env, rep statusReport) error {
	w := env.Stdout
	server := safetext.Line(rep.Server)
	if server == "" {
		server = "(none)"
	}
	switch {
	case rep.Problem != "":
		fmt.Fprintf(w, "Server:     %s — not logged in as %s: %s\n", server, safetext.Line(rep.User), safetext.Line(rep.Problem))
	case rep.Connectivity == string(syncer.LoggedOut):
		fmt.Fprintf(w, "Server:     %s — not logged in (run 'casefile login --server URL --user NAME')\n", server)
	default:
		fmt.Fprintf(w, "Server:     %s — %s\n", server, rep.Connectivity)
		fmt.Fprintf(w, "User:       %s (device %s)\n", safetext.Line(rep.User), safetext.Line(rep.Device))
	}
	if rep.LastSync == nil {
		fmt.Fprintf(w, "Last sync:  never\n")
	} else {
		fmt.Fprintf(w, "Last sync:  %s (%s ago)\n", when(*rep.LastSync), ago(time.Since(*rep.LastSync)))
	}
	var parts []string
	for _, s := range []struct {
		n     int
		state model.SyncState
	}{
		{rep.Synced, model.StateSynced}, {rep.Pending, model.StatePending}, {rep.Syncing, model.StateSyncing},
		{rep.Retrying, model.StateRetrying}, {rep.Failed, model.StateFailed}, {rep.Conflicts, model.StateConflict},
	} {
		parts = append(parts, fmt.Sprintf("%d %s", s.n, s.state.Label()))
	}
	fmt.Fprintf(w, "Records:    %s\n", strings.Join(parts, ", "))
	switch {
	case rep.Outbox == 0:
		fmt.Fprintf(w, "Outbox:     empty\n")
	case rep.OldestPendingAgeSeconds != nil:
		fmt.Fprintf(w, "Outbox:     %d change(s) waiting; the oldest for %s (run 'casefile queue')\n", rep.Outbox,
			ago(time.Duration(*rep.OldestPendingAgeSeconds*float64(time.Second))))
	default:
		fmt.Fprintf(w, "Outbox:     %d change(s) waiting (run 'casefile queue')\n", rep.Outbox)
	}
	if rep.Conflicts > 0 {
		fmt.Fprintf(w, "Conflicts:  %d to review (run 'casefile conflicts')\n", rep.Conflicts)
	}
	if n := max(rep.Failed, rep.FailedChanges); n > 0 {
		fmt.Fprintf(w, "Failed:     %d change(s) refused by the server (run 'casefile queue', then retry or discard)\n", n)
	}
	if rep.Damage != "" {
		fmt.Fprintf(w, "Damage:     %s\n", safetext.Line(rep.Damage))
	}
	if rep.UploadsWaiting+rep.UploadsFailed+rep.DownloadsFailed > 0 {
		fmt.Fprintf(w, "Files:      %d to upload, %d refused by the server, %d could not be downloaded (run 'casefile files')\n",
			rep.UploadsWaiting, rep.UploadsFailed, rep.DownloadsFailed)
	}
	return nil
}

// ago renders a duration for people: "12 seconds", "3 minutes", "2 hours", "4 days".
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0 seconds"
	case d < time.Minute:
		return plural(int(d/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// outboxOp finds a queued op by id.
func outboxOp(ctx context.Context, db *localdb.DB, opID string) (localdb.OutboxOp, error) {
	opID, err := resolveOp(ctx, db, opID)
	if err != nil {
		return localdb.OutboxOp{}, err
	}
	ops, err := db.Outbox(ctx)
	if err != nil {
		return localdb.OutboxOp{}, err
	}
	for _, o := range ops {
		if o.OpID == opID {
			return o, nil
		}
	}
	return localdb.OutboxOp{}, fmt.Errorf("no queued change with id %s (run 'casefile queue' to list them): %w", opID, localdb.ErrNoOp)
}
