// Package benchrun is `casefile bench`: the sync scenarios S1–S7 run as
// separate processes of the casefile binary over real loopback HTTP, with
// the bytes counted at the connection by a proxy between client and
// server. It prints one JSON object; progress goes to stderr.
package benchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options configure a bench run.
type Options struct {
	Bin string // this casefile binary: it runs S5's load
	// Target is the casefile binary measured (its server, client commands
	// and the S1 and S4 workers); default Bin. Another build's figures,
	// such as a baseline's, are thus measured by the same harness.
	Target   string
	Only     []string // scenario ids to run (S1…S7); empty runs all
	Notes    int      // N of S2, S3 and S4's burst; default 10,000
	BigNotes int      // N of S7 and of S3's large run; default 100,000 (0 skips S3's large run)
	Runs     int      // runs per scenario; each figure is the median; default 1
	Postgres string   // a PostgreSQL URL for S6; empty skips S6
	// S5: event streams held, pushers among them, and how long they push.
	Streams, Pushers int
	PushFor          time.Duration
	Singles          int // S4's single edits, 200 ms apart; default 50
	Dir              string
	Progress         io.Writer
}

// Scenario ids in their order of execution.
var allScenarios = []string{"S1", "S7", "S2", "S3", "S4", "S5", "S6"}

type bench struct {
	opts Options
	bin  string
	root string
	log  io.Writer
	data map[int]string // notes file by N
}

// Result is the JSON object the bench prints.
type Result struct {
	Started   time.Time                     `json:"started"`
	Seconds   float64                       `json:"seconds"`
	CPUs      int                           `json:"cpus"`
	GoVersion string                        `json:"go"`
	Runs      int                           `json:"runs"`
	Notes     int                           `json:"notes"`
	BigNotes  int                           `json:"big_notes"`
	Scenarios map[string]map[string]float64 `json:"scenarios"`
	Errors    map[string]string             `json:"errors,omitempty"`
}

// Run runs the chosen scenarios and writes the result to out.
func Run(ctx context.Context, opts Options, out io.Writer) error {
	if opts.Notes <= 0 {
		opts.Notes = 10_000
	}
	if opts.BigNotes < 0 {
		opts.BigNotes = 0
	}
	if opts.Runs <= 0 {
		opts.Runs = 1
	}
	if opts.Streams <= 0 {
		opts.Streams = 10_000
	}
	if opts.Pushers <= 0 {
		opts.Pushers = 1_000
	}
	if opts.Singles <= 0 {
		opts.Singles = 50
	}
	if opts.PushFor <= 0 {
		opts.PushFor = 10 * time.Second
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	root, err := os.MkdirTemp(opts.Dir, "casefile-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	if opts.Target == "" {
		opts.Target = opts.Bin
	}
	b := &bench{opts: opts, bin: opts.Target, root: root, log: opts.Progress, data: map[int]string{}}
	res := Result{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Runs: opts.Runs,
		Notes: opts.Notes, BigNotes: opts.BigNotes, Scenarios: map[string]map[string]float64{}, Errors: map[string]string{}}
	want := func(id string) bool { return len(opts.Only) == 0 || slices.Contains(opts.Only, id) }
	for _, id := range allScenarios {
		if !want(id) {
			continue
		}
		if id == "S6" && opts.Postgres == "" {
			b.progress("S6 skipped: no --postgres URL")
			continue
		}
		var runs []map[string]float64
		for r := range opts.Runs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.progress("%s run %d/%d", id, r+1, opts.Runs)
			m, err := b.scenario(ctx, id, r)
			if err != nil {
				res.Errors[id] = err.Error()
				b.progress("%s failed: %v", id, err)
				break
			}
			runs = append(runs, m)
		}
		for k, v := range medians(runs) {
			sid, key, ok := strings.Cut(k, "/")
			if !ok {
				sid, key = id, k
			}
			if res.Scenarios[sid] == nil {
				res.Scenarios[sid] = map[string]float64{}
			}
			res.Scenarios[sid][key] = v
		}
	}
	againstSQLite(res.Scenarios)
	res.Seconds = time.Since(res.Started).Seconds()
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// scenario runs one run of a scenario in a directory of its own. Figures
// named "S3/…" belong to another scenario measured on the way.
func (b *bench) scenario(ctx context.Context, id string, run int) (map[string]float64, error) {
	dir := filepath.Join(b.root, fmt.Sprintf("%s-%d", id, run))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	switch id {
	case "S1":
		return b.worker(ctx, "S1", "--dir", dir)
	case "S2":
		return b.pushPull(ctx, dir, b.opts.Notes, sqliteStore(dir), "", "S3/")
	case "S3":
		if b.opts.BigNotes == 0 {
			return nil, nil
		}
		big := fmt.Sprintf("%dk_", b.opts.BigNotes/1000)
		return b.pushPull(ctx, dir, b.opts.BigNotes, sqliteStore(dir), "S2/"+big, big)
	case "S4":
		return b.live(ctx, dir)
	case "S5":
		return b.streams(ctx, dir, sqliteStore(dir))
	case "S6":
		return b.postgres(ctx, dir)
	case "S7":
		return b.importNotes(ctx, dir, b.opts.BigNotes)
	}
	return nil, fmt.Errorf("unknown scenario %s", id)
}

// medians folds runs into one map, each figure the median of its runs.
func medians(runs []map[string]float64) map[string]float64 {
	all := map[string][]float64{}
	for _, r := range runs {
		for k, v := range r {
			all[k] = append(all[k], v)
		}
	}
	out := map[string]float64{}
	for k, vs := range all {
		slices.Sort(vs)
		out[k] = round3(vs[len(vs)/2])
	}
	return out
}

// againstSQLite adds to S6 how many times slower than SQLite each of its
// parts ran, the figure its target bounds (within 2×): SQLite's notes a
// second over PostgreSQL's for the push and the first sync (S2 and the
// first sync measured in S2's run), and the two replicas' push p99 over
// S5's. A part whose SQLite figure this run did not measure gets none.
func againstSQLite(s map[string]map[string]float64) {
	pg := s["S6"]
	if pg == nil {
		return
	}
	ratio := func(key string, num, den float64) {
		if num > 0 && den > 0 {
			pg[key] = round3(num / den)
		}
	}
	ratio("push_x_sqlite", s["S2"]["notes_per_s"], pg["push_notes_per_s"])
	ratio("pull_x_sqlite", s["S3"]["notes_per_s"], pg["pull_notes_per_s"])
	ratio("replicas2_push_p99_x_sqlite", pg["replicas2_push_p99_ms"], s["S5"]["push_p99_ms"])
}

func round3(v float64) float64 {
	switch {
	case v >= 100:
		return float64(int64(v + 0.5))
	case v >= 1:
		return float64(int64(v*100+0.5)) / 100
	}
	return float64(int64(v*1e4+0.5)) / 1e4
}

// notesFile returns a JSON Lines file of n notes, written once per bench.
func (b *bench) notesFile(n int) (string, error) {
	if p, ok := b.data[n]; ok {
		return p, nil
	}
	p := filepath.Join(b.root, fmt.Sprintf("notes-%d.jsonl", n))
	if err := writeNotes(p, n); err != nil {
		return "", err
	}
	b.data[n] = p
	return p, nil
}

// sqliteStore is the serve/admin flags of a SQLite store under dir.
func sqliteStore(dir string) []string { return []string{"--data", filepath.Join(dir, "server")} }
