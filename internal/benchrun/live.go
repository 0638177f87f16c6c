package benchrun

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
)

// Timings of S4.
const (
	singleGap    = 200 * time.Millisecond // between the single edits
	liveDeadline = 2 * time.Minute        // the longest an edit may take to arrive
	liveRecheck  = 20 * time.Millisecond  // B rechecks this often even without a pulled page
)

// live measures S4 in a worker process holding two online devices of one
// user, A and B, each with its syncer running (as the terminal UI has),
// against a server in another process.
func (b *bench) live(ctx context.Context, dir string) (map[string]float64, error) {
	store := sqliteStore(dir)
	srv, err := b.serveUser(ctx, store, "alice")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	for _, d := range []string{"a", "b"} {
		if err := b.login(ctx, filepath.Join(dir, d), srv.URL(), "alice"); err != nil {
			return nil, err
		}
	}
	b.progress("live edits between two devices")
	cpu0 := srv.cpu()
	m, err := b.worker(ctx, "S4", "--dir", dir, "--burst", fmt.Sprint(min(b.opts.Notes, 1000)), "--singles", fmt.Sprint(b.opts.Singles))
	if m != nil {
		m["server_cpu_s"] = (srv.cpu() - cpu0).Seconds()
	}
	return m, err
}

// device is one online client of the live worker.
type device struct {
	db *localdb.DB
	s  *syncer.Syncer
}

func openDevice(ctx context.Context, dir string) (*device, error) {
	creds, err := config.LoadCredentials(dir)
	if err != nil {
		return nil, err
	}
	db, err := openLocal(ctx, config.DBPath(dir))
	if err != nil {
		return nil, err
	}
	s := syncer.New(db, syncer.Options{Server: creds.Server, User: creds.User, Token: creds.Token, Device: creds.Device})
	s.Start(ctx)
	return &device{db: db, s: s}, nil
}

func (d *device) close() {
	d.s.Close()
	d.db.Close()
}

// waitFor calls seen on every page B pulls (and every liveRecheck) until
// it says true; it returns when that happened.
func (d *device) waitFor(ctx context.Context, seen func() (bool, error)) (time.Time, error) {
	tick := time.NewTicker(liveRecheck)
	defer tick.Stop()
	deadline := time.After(liveDeadline)
	for {
		ok, err := seen()
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline:
			return time.Time{}, errors.New("an edit did not arrive on the other device")
		case <-d.s.Events():
		case <-tick.C:
		}
	}
}

// workerLive: A saves edits, B sees them; the latency is from the return of
// A's save to B's database holding it.
func workerLive(ctx context.Context, args WorkerArgs) (map[string]float64, error) {
	a, err := openDevice(ctx, filepath.Join(args.Dir, "a"))
	if err != nil {
		return nil, err
	}
	defer a.close()
	bd, err := openDevice(ctx, filepath.Join(args.Dir, "b"))
	if err != nil {
		return nil, err
	}
	defer bd.close()
	matter, err := a.db.Create(ctx, "matter", "", model.Fields{"title": "Live v Bench"})
	if err != nil {
		return nil, err
	}
	a.s.Nudge()
	if _, err := bd.waitFor(ctx, func() (bool, error) { return has(ctx, bd.db, matter.ID) }); err != nil {
		return nil, err
	}
	note, err := a.db.Create(ctx, "note", "", model.Fields{"matter_id": matter.ID, "title": "edit -1", "body": noteBody})
	if err != nil {
		return nil, err
	}
	a.s.Nudge()
	// Single edits, 200 ms apart.
	var singles []time.Duration
	for i := range args.Singles {
		title := fmt.Sprintf("edit %d", i)
		if _, err := a.db.Update(ctx, note.ID, model.Fields{"title": title}); err != nil {
			return nil, err
		}
		saved := time.Now()
		a.s.Nudge()
		at, err := bd.waitFor(ctx, func() (bool, error) {
			r, err := bd.db.Get(ctx, note.ID)
			if errors.Is(err, localdb.ErrNotFound) {
				return false, nil
			}
			return err == nil && r.Fields["title"] == title, err
		})
		if err != nil {
			return nil, err
		}
		singles = append(singles, at.Sub(saved))
		time.Sleep(singleGap)
	}
	// A burst of new notes, saved as fast as A can. Pushes keep the save
	// order and pulls the server's, so B holds a prefix of the burst:
	// B's count of them tells which have arrived.
	burstMatter, err := a.db.Create(ctx, "matter", "", model.Fields{"title": "Burst v Bench"})
	if err != nil {
		return nil, err
	}
	a.s.Nudge()
	if _, err := bd.waitFor(ctx, func() (bool, error) { return has(ctx, bd.db, burstMatter.ID) }); err != nil {
		return nil, err
	}
	// B is watched while A saves, so that a note's latency ends when B
	// first holds it, not when the burst is over.
	var arrivals []arrival
	watched := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	defer stop() // a save that fails ends the watch
	go func() {
		_, err := bd.waitFor(wctx, func() (bool, error) {
			n, err := bd.db.Count(wctx, localdb.ListQuery{Collection: "note", MatterID: burstMatter.ID})
			if err != nil {
				return false, err
			}
			if len(arrivals) == 0 || n > arrivals[len(arrivals)-1].n {
				arrivals = append(arrivals, arrival{n, time.Now()})
			}
			return n >= args.Burst, nil
		})
		watched <- err
	}()
	saved := make([]time.Time, 0, args.Burst)
	t0 := time.Now()
	for i := range args.Burst {
		if _, err := a.db.Create(ctx, "note", "", model.Fields{"matter_id": burstMatter.ID,
			"title": fmt.Sprintf("burst %d", i), "body": noteBody}); err != nil {
			return nil, err
		}
		saved = append(saved, time.Now())
		a.s.Nudge()
	}
	saving := time.Since(t0)
	if err := <-watched; err != nil {
		return nil, err
	}
	burst := latencies(saved, arrivals)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return map[string]float64{
		"single_p50_ms":     percentile(singles, 0.5) / 1000,
		"single_p99_ms":     percentile(singles, 0.99) / 1000,
		"burst_edits":       float64(args.Burst),
		"burst_p50_ms":      percentile(burst, 0.5) / 1000,
		"burst_p99_ms":      percentile(burst, 0.99) / 1000,
		"burst_save_ms":     us(saving),
		"burst_saves_per_s": float64(args.Burst) / saving.Seconds(),
	}, nil
}

// arrival is a count of the burst's notes on B and the moment B was first
// seen to hold that many.
type arrival struct {
	n  int
	at time.Time
}

// latencies are the burst's notes' times from their save on A to the
// first arrival that holds them. Pushes keep the save order and pulls the
// server's, so B holds a prefix of the burst: note i arrived with the
// first count above i. arrivals' counts rise and the last holds every
// note saved.
func latencies(saved []time.Time, arrivals []arrival) []time.Duration {
	out := make([]time.Duration, len(saved))
	j := 0
	for i := range saved {
		for arrivals[j].n <= i {
			j++
		}
		out[i] = arrivals[j].at.Sub(saved[i])
	}
	return out
}

func has(ctx context.Context, db *localdb.DB, id string) (bool, error) {
	_, err := db.Get(ctx, id)
	if errors.Is(err, localdb.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
