package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"casefile/dropfolder"
)

// inboxCommands are the commands of this file, for the command table.
func inboxCommands() []Command {
	return []Command{
		{
			Name:    "inbox",
			Usage:   "[--once]",
			Summary: "Import files saved in the drop folder (a sub-folder per matter) as documents with the file attached; watches until interrupted",
			Run:     runInbox,
		},
	}
}

func runInbox(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	once := fs.Bool("once", false, "import what has settled and stop")
	if err := parseNoArgs(fs, args, "inbox"); err != nil {
		return err
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	root := cfg.ResolvedDropFolder()
	if root == "" {
		return errors.New(`the drop folder is off (drop_folder = "off" in the config file)`)
	}
	files, err := openFiles(ctx, env, db, cfg)
	if err != nil {
		return err
	}
	w := dropfolder.New(db, files, dropfolder.Options{Root: root, KeepOriginals: cfg.DropKeepOriginals,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))})
	if *once {
		// Two looks a quiet time apart: a file still being written is
		// left for the next run.
		if _, err := w.Scan(ctx); err != nil {
			return err
		}
		if err := sleepCtx(ctx, dropfolder.DefaultQuiet); err != nil {
			return err
		}
		n, err := w.Scan(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "imported %d file(s) from %s\n", n, root)
		return nil
	}
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	fmt.Fprintf(env.Stderr, "watching %s (a folder per matter; Ctrl-C stops)\n", root)
	<-ctx.Done()
	return w.Close()
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
