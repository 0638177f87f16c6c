package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/internal/safetext"
	"casefile/localdb"
)

// doctorCommands are the commands of this file, for the command table.
func doctorCommands() []Command {
	return []Command{
		{
			Name:    "doctor",
			Usage:   "[--repair] [--json]",
			Summary: "Check the local database and the sync cursor; --repair fixes what it can and pulls everything again",
			Run:     runDoctor,
		},
	}
}

// doctorTimeout bounds the server checks of doctor (not the repair's pull).
const doctorTimeout = 5 * time.Second

// doctorReport is casefile doctor --json.
type doctorReport struct {
	OK       bool     `json:"ok"` // no problem left
	Problems []string `json:"problems"`
	Repaired []string `json:"repaired"`
	// Remaining is what a repair left unfixed (with --repair only).
	Remaining []string `json:"remaining,omitempty"`
	Notes     []string `json:"notes"`
	Cursor    int64    `json:"cursor"`
	// ServerHead is the server's change sequence; -1 when it was not asked.
	ServerHead int64 `json:"server_head"`
}

func runDoctor(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	repair := fs.Bool("repair", false, "fix what can be fixed and pull everything again from the server (queued changes are kept)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseNoArgs(fs, args, "doctor"); err != nil {
		return err
	}
	db, cfg, err := openChecked(ctx, env, 0)
	if errors.Is(err, localdb.ErrCorrupt) {
		return doctorDamaged(ctx, env, err, *repair, *asJSON)
	}
	if gone := (*dbGoneError)(nil); errors.As(err, &gone) {
		return doctorGone(ctx, env, gone, *repair, *asJSON)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return fmt.Errorf("read sync status: %w", err)
	}
	rep := doctorReport{Cursor: st.Cursor, ServerHead: -1, Notes: []string{}}
	creds, cerr := loadCredentials(cfg)
	var client *apiclient.Client
	if cerr == nil {
		client, err = apiclient.NewClient(creds.Server, creds.Token, nil, apiclient.WithUser(creds.User))
	}
	// Cursor sanity first, before a repair moves the cursor.
	var cursorProblem string
	switch {
	case errors.Is(cerr, config.ErrNoCredentials):
		rep.Notes = append(rep.Notes, "not logged in: the cursor was not checked against the server")
	case cerr != nil:
		return cerr
	case err != nil:
		rep.Notes = append(rep.Notes, "the saved server address is unusable: "+err.Error())
		client = nil
	default:
		// A damaged cursor (which the local checks name) is no question
		// for the server: its head is asked from 0.
		from := st.Cursor
		if st.CursorErr != nil {
			from = 0
		}
		cctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		head, tooOld, perr := serverHead(cctx, client, from)
		cancel()
		switch {
		case perr == nil:
			rep.ServerHead = head
			if st.CursorErr == nil && st.Cursor > head {
				cursorProblem = fmt.Sprintf("the sync cursor (%d) is ahead of the server's last change (%d): the server was reset or restored; run 'casefile doctor --repair'", st.Cursor, head)
			} else if tooOld {
				rep.Notes = append(rep.Notes, "the server no longer keeps changes that old: the next sync reads everything again")
			}
		case apiclient.ClassOf(perr) == apiclient.ClassUnauthorized:
			rep.Notes = append(rep.Notes, apiclient.SessionExpired)
			client = nil
		default:
			rep.Notes = append(rep.Notes, "the server could not be asked: "+apiclient.ClassOf(perr).String())
			client = nil
		}
	}
	dr, err := db.Doctor(ctx, *repair)
	if errors.Is(err, localdb.ErrCorrupt) {
		// Damage the open did not meet (a table dropped that this
		// command never read): rebuilt like a damaged file.
		db.Close()
		return doctorDamaged(ctx, env, errors.Unwrap(err), *repair, *asJSON)
	}
	if err != nil {
		return err
	}
	rep.Problems, rep.Repaired = dr.Problems, dr.Repaired
	if cursorProblem != "" {
		rep.Problems = append(rep.Problems, cursorProblem)
		if *repair {
			rep.Repaired = append(rep.Repaired, "the sync cursor starts over from the server")
		}
	}
	if *repair {
		if client == nil {
			rep.Notes = append(rep.Notes, "the full pull from the server runs at the next sync")
		} else {
			fullPull(ctx, env, db, cfg, creds, &rep)
		}
	}
	remaining := rep.Problems
	if *repair {
		// What a repair could not fix is still there: check again.
		after, err := db.Doctor(ctx, false)
		if err != nil {
			return err
		}
		remaining = after.Problems
		rep.Remaining = remaining
		// The cursor the repair left (reset, or moved by its pull), not
		// the one it found.
		st, err := db.Status(ctx)
		if err != nil {
			return fmt.Errorf("read sync status: %w", err)
		}
		rep.Cursor = st.Cursor
	}
	return finishDoctor(env, rep, *repair, *asJSON, remaining)
}

func printDoctor(env *Env, rep doctorReport, repair bool) {
	w := env.Stdout
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "No problems found.")
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem:  %s\n", safetext.Line(p))
	}
	for _, r := range rep.Repaired {
		fmt.Fprintf(w, "repaired: %s\n", safetext.Line(r))
	}
	for _, p := range rep.Remaining {
		fmt.Fprintf(w, "remains:  %s\n", safetext.Line(p))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note:     %s\n", safetext.Line(n))
	}
	head := "not asked"
	if rep.ServerHead >= 0 {
		head = fmt.Sprint(rep.ServerHead)
	}
	fmt.Fprintf(w, "cursor:   %d (server's last change: %s)\n", rep.Cursor, head)
	if !repair && len(rep.Problems) > 0 {
		fmt.Fprintln(w, "Run 'casefile doctor --repair' to fix what can be fixed.")
	}
}

// serverHead asks the server for its last change with a one-record pull
// from cursor; a cursor the server refuses as too old (or impossible) is
// asked again from 0.
func serverHead(ctx context.Context, c *apiclient.Client, cursor int64) (head int64, tooOld bool, err error) {
	page, err := c.Pull(ctx, cursor, 1, apiclient.NoMark)
	if apiclient.ClassOf(err) == apiclient.ClassCursorTooOld {
		tooOld = true
		page, err = c.Pull(ctx, 0, 1, apiclient.NoMark)
	}
	if err != nil {
		return 0, tooOld, err
	}
	return page.Head, tooOld, nil
}
