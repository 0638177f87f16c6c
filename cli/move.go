package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/internal/safetext"
	"casefile/server/store/sqlitestore"
	"casefile/server/storemove"
)

// runMoveTo copies the SQLite store of the --data directory into the
// empty PostgreSQL store at url, holding the directory's serve lock so
// that no server changes the store meanwhile.
func runMoveTo(ctx context.Context, env *Env, sf storeFlags, url string) error {
	if sf.database != "" {
		return usageError("move-to moves the store of --data DIR; the PostgreSQL URL it goes to is its argument, not --database")
	}
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return usageError("move-to takes a postgres:// URL, e.g. postgres://casefile@db/casefile (?search_path=SCHEMA for a schema other than public)")
	}
	// Not sf.options: it would take CASEFILE_DATABASE_URL for a store
	// when no directory is named, and the move's source is a directory.
	dir, err := sf.dataDir(env)
	if err != nil {
		return err
	}
	if err := notMoved(dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, sqlitestore.FileName)); err != nil {
		return fmt.Errorf("no server database in %s (give the --data directory casefile serve runs with)", dir)
	}
	release, err := lockServeDir(dir)
	if errors.Is(err, errServeRunning) {
		return fmt.Errorf("a casefile serve is running on %s: stop it first, so that nothing changes the store while it is copied, then move again (nothing was changed)", dir)
	}
	if err != nil {
		return err
	}
	defer release()
	releaseMove, err := lockMoveDir(dir, true)
	if err != nil {
		return err
	}
	defer releaseMove()
	fmt.Fprintf(env.Stderr, "moving %s …\n", dir)
	res, err := storemove.Move(ctx, storemove.Options{DataDir: dir, URL: url, Copied: func(table string, rows int64) {
		fmt.Fprintf(env.Stderr, "  copied %s (%d rows)\n", table, rows)
	}})
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("the move was interrupted: nothing was committed, the target is as it was, and the move may be run again")
		}
		return err
	}
	if err := markMoved(dir, res, time.Now()); err != nil {
		printMove(env, dir, res)
		return fmt.Errorf("the move succeeded, but %w: do not start casefile serve on %s again, its servers now run with --database", err, dir)
	}
	printMove(env, dir, res)
	return nil
}

// movedName is the file a move leaves in the data directory it moved:
// casefile serve and every admin command but audit verify refuse the
// directory while it is there. A server restarted on the old copy (a service left
// enabled, a reboot) would otherwise take devices' writes apart from the
// PostgreSQL store's, and neither store would hold them all.
const movedName = "MOVED"

// markMoved writes movedName, saying where the store went.
func markMoved(dir string, res storemove.Result, at time.Time) error {
	text := fmt.Sprintf("moved to %s at %s by casefile admin move-to\n"+
		"casefile serve and every admin command but audit verify refuse this directory while this file exists;\n"+
		"remove it only to serve this copy again instead of the PostgreSQL store.\n", res.Target, at.UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, movedName), []byte(text), 0o600); err != nil {
		return fmt.Errorf("could not mark the directory as moved: %w", err)
	}
	return nil
}

// notMoved refuses a data directory whose store a move took to
// PostgreSQL (markMoved), quoting where it went.
func notMoved(dir string) error {
	path := filepath.Join(dir, movedName)
	b, err := os.ReadFile(path) // #nosec G304 -- the data directory's own marker
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	where, _, _ := strings.Cut(string(b), "\n")
	return fmt.Errorf("the store of %s was %s: its servers run with --database now, and using this old copy would part it from theirs; remove %s only to serve this copy instead (nothing was changed)",
		dir, safetext.Line(strings.TrimSpace(where)), path)
}

// printMove prints what a move copied.
func printMove(env *Env, dir string, res storemove.Result) {
	fmt.Fprintf(env.Stdout, "moved %s to %s in %s\n", dir, res.Target, res.Elapsed.Round(time.Millisecond))
	t := newTable(env.Stdout, "TABLE", "ROWS")
	for _, c := range res.Tables {
		t.row(c.Table, fmt.Sprint(c.Rows))
	}
	_ = t.flush()
	fmt.Fprintf(env.Stdout, "files: %d (%d chunks, %s)\n", res.Files, res.Chunks, byteSize(res.Bytes))
	for _, d := range res.Dropped {
		fmt.Fprintf(env.Stdout, "not moved: %s, %d rows (%s)\n", d.Table, d.Rows, d.Why)
	}
	h := res.Head
	fmt.Fprintf(env.Stdout, "head: sequence %d, compacted through %d, ledger through %d; audit log %d rows, chain verified, tail %.12s…\n",
		h.Seq, h.CompactedThrough, h.LedgerThrough, h.AuditRows, h.AuditHash)
	fmt.Fprintf(env.Stdout, "The SQLite store is unchanged; %s marks it moved, so casefile serve and admin commands (audit verify aside) refuse it. Start the servers with --database and this URL; devices need nothing (same tokens, same cursors).\n", movedName)
}
