package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"casefile/internal/benchrun"
)

// benchCommands are the commands of this file, for the command table.
func benchCommands() []Command {
	return []Command{
		{
			Name:  "bench",
			Usage: "[--only S1,S2,…] [--notes N] [--big-notes N] [--runs R] [--postgres URL]",
			Summary: "Measure sync speed: scenarios S1–S7 in separate processes over loopback HTTP; " +
				"one JSON object on stdout, progress on stderr",
			Run: runBench,
		},
	}
}

func runBench(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	var o benchrun.Options
	only := fs.String("only", "", "comma-separated scenarios to run (default all: S1,S2,S3,S4,S5,S6,S7)")
	fs.IntVar(&o.Notes, "notes", 10_000, "notes pushed and pulled in S2 and S3")
	fs.IntVar(&o.BigNotes, "big-notes", 100_000, "notes imported in S7 and pushed and pulled in S3's large run (0: S7 uses --notes, no large run)")
	fs.IntVar(&o.Runs, "runs", 1, "runs per scenario; each figure is the median")
	fs.StringVar(&o.Postgres, "postgres", "", "PostgreSQL URL for S6 (env CASEFILE_TEST_POSTGRES); without it S6 is skipped")
	fs.IntVar(&o.Streams, "streams", 10_000, "S5: event streams held")
	fs.IntVar(&o.Pushers, "pushers", 1_000, "S5: streams that push one note a second")
	fs.DurationVar(&o.PushFor, "push-for", 10*time.Second, "S5: how long the pushers push")
	fs.StringVar(&o.Target, "bin", "", "the casefile binary to measure, e.g. an older build (default this one)")
	fs.StringVar(&o.Dir, "dir", "", "where the scenarios' files go (default the temporary directory)")
	worker := fs.String("worker", "", "")
	var wa benchrun.WorkerArgs
	fs.StringVar(&wa.Dir, "wdir", "", "")
	urls := fs.String("urls", "", "")
	fs.IntVar(&wa.Burst, "burst", 1000, "")
	fs.IntVar(&o.Singles, "singles", 50, "S4: single edits, 200 ms apart")
	if err := parseNoArgs(fs, args, "bench"); err != nil {
		return err
	}
	if *worker != "" {
		wa.URLs = strings.Split(*urls, ",")
		wa.Streams, wa.Pushers, wa.PushFor, wa.Singles = o.Streams, o.Pushers, o.PushFor, o.Singles
		if wa.Dir == "" {
			wa.Dir = o.Dir
		}
		m, err := benchrun.Worker(ctx, *worker, wa)
		if err != nil {
			return err
		}
		return json.NewEncoder(env.Stdout).Encode(m)
	}
	if o.Postgres == "" {
		o.Postgres = env.Getenv("CASEFILE_TEST_POSTGRES")
	}
	if *only != "" {
		for _, id := range strings.Split(*only, ",") {
			o.Only = append(o.Only, strings.ToUpper(strings.TrimSpace(id)))
		}
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the casefile binary: %w", err)
	}
	o.Bin, o.Progress = bin, env.Stderr
	return benchrun.Run(ctx, o, env.Stdout)
}
