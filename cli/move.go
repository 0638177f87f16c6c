package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	dir := sf.data
	if dir == "" {
		dir = env.DataDir
	}
	if dir == "" {
		dir = DefaultServerDataDir(env.Getenv)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := notDeviceDir(dir); err != nil {
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
	printMove(env, dir, res)
	return nil
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
	fmt.Fprintln(env.Stdout, "The SQLite store is unchanged. Start the servers with --database and this URL; devices need nothing (same tokens, same cursors).")
}
