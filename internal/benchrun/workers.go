package benchrun

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"casefile/assets"
	"casefile/localdb"
	"casefile/model"
)

// s1Samples is the number of timed writes of S1, enough for a p99; they
// are timed in blocks of s1Block, with s1Settle of rest before each block
// of writes or of floor inserts.
const (
	s1Samples = 2000
	s1Block   = 100
	s1Settle  = 150 * time.Millisecond
)

// worker runs `casefile bench --worker NAME args…` and reads the figures
// it prints.
func (b *bench) worker(ctx context.Context, name string, args ...string) (map[string]float64, error) {
	return b.workerOf(ctx, b.bin, name, args...)
}

// workerOf runs the worker of binary bin.
func (b *bench) workerOf(ctx context.Context, bin, name string, args ...string) (map[string]float64, error) {
	saved := b.bin
	b.bin = bin
	out, _, err := b.exe(ctx, "", append([]string{"bench", "--worker", name}, args...)...)
	b.bin = saved
	if err != nil {
		return nil, err
	}
	var m map[string]float64
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, fmt.Errorf("read the %s worker's figures: %w", name, err)
	}
	return m, nil
}

// Worker runs one worker of a scenario in this process and returns its
// figures: S1 (single writes against a bare insert), S4 (live edits between
// two online devices), S5 (many event streams and pushers).
func Worker(ctx context.Context, name string, args WorkerArgs) (map[string]float64, error) {
	switch name {
	case "S1":
		return workerWrites(ctx, args.Dir)
	case "S3seal":
		return workerSealCost(ctx, args.Dir)
	case "S4":
		return workerLive(ctx, args)
	case "S5":
		return workerStreams(ctx, args)
	}
	return nil, fmt.Errorf("unknown worker %q", name)
}

// WorkerArgs are the flags of `casefile bench --worker`.
type WorkerArgs struct {
	Dir              string
	URLs             []string
	Streams, Pushers int
	PushFor          time.Duration
	Burst, Singles   int
}

func openLocal(ctx context.Context, path string) (*localdb.DB, error) {
	s, err := model.ParseSchema(assets.Schema)
	if err != nil {
		return nil, err
	}
	return localdb.Open(ctx, path, s)
}

// workerWrites times single user writes (a note's create: record, outbox
// op, journal entry and search backlog entry in one FULL transaction)
// against a bare one-row insert into a one-table file opened with the same
// pragmas: the floor, measured in the same run on the same disk. They
// alternate in blocks of s1Block, each after s1Settle of rest: the local
// database's background work (the checkpointer, the search indexer) runs
// during and after its own writes, and a floor timed right after a write
// paid for it too, which made the ratio look better than it is.
func workerWrites(ctx context.Context, dir string) (map[string]float64, error) {
	db, err := openLocal(ctx, filepath.Join(dir, "client.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	floor, err := sql.Open("sqlite", localdb.DSN(filepath.Join(dir, "floor.db")))
	if err != nil {
		return nil, err
	}
	defer floor.Close()
	floor.SetMaxOpenConns(1)
	if _, err := floor.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		return nil, err
	}
	m, err := db.Create(ctx, "matter", "", model.Fields{"title": "Bench v Mark"})
	if err != nil {
		return nil, err
	}
	fields := model.Fields{"matter_id": m.ID, "title": "Called the clerk about the hearing", "body": noteBody,
		"status": "open", "tags": []any{"court"}}
	writes := make([]time.Duration, 0, s1Samples)
	floors := make([]time.Duration, 0, s1Samples)
	for len(writes) < s1Samples {
		time.Sleep(s1Settle)
		for range s1Block {
			t0 := time.Now()
			if _, err := db.Create(ctx, "note", "", fields); err != nil {
				return nil, err
			}
			writes = append(writes, time.Since(t0))
		}
		time.Sleep(s1Settle)
		for range s1Block {
			t0 := time.Now()
			if _, err := floor.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", noteBody); err != nil {
				return nil, err
			}
			floors = append(floors, time.Since(t0))
		}
	}
	w50, w99 := percentile(writes, 0.5), percentile(writes, 0.99)
	f50, f99 := percentile(floors, 0.5), percentile(floors, 0.99)
	return map[string]float64{"write_p50_us": w50, "write_p99_us": w99, "floor_p50_us": f50, "floor_p99_us": f99,
		"p99_ratio": w99 / f99, "p50_ratio": w50 / f50}, nil
}

// percentile is the q-quantile of d in microseconds.
func percentile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Nanoseconds()) / 1e3
}
