package benchrun

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"casefile/assets"
	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
	"casefile/vault"
)

// sealOrder is the order of the encryption worker's first syncs, plaintext
// (false) and sealed (true): ABBA, so a machine getting busier or quieter
// during the run weighs on both alike.
var sealOrder = []bool{false, true, true, false}

// sealCost measures what encryption costs S3: fresh devices of one user
// run their first sync of the same data in one worker process, with a
// plaintext and with a sealed database, in the order of sealOrder. Only
// the database differs: the same syncer, server, link and compression.
func (b *bench) sealCost(ctx context.Context, dir, url string, records int) (map[string]float64, error) {
	for i := range sealOrder {
		if err := b.login(ctx, filepath.Join(dir, fmt.Sprintf("seal-%d", i)), url, "alice"); err != nil {
			return nil, err
		}
	}
	b.progress("first syncs plaintext and encrypted, %d records each, %d of them", records, len(sealOrder))
	m, err := b.worker(ctx, "S3seal", "--dir", dir)
	if err != nil {
		return nil, err
	}
	if got := int(m["pulled_min"]); got != records {
		return nil, fmt.Errorf("a first sync pulled %d records, want %d", got, records)
	}
	delete(m, "pulled_min")
	return m, nil
}

// workerSealCost is the worker of sealCost.
func workerSealCost(ctx context.Context, dir string) (map[string]float64, error) {
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		return nil, err
	}
	keys, err := vault.NewRandom()
	if err != nil {
		return nil, err
	}
	var wall, cpu [2]time.Duration
	pulledMin := -1
	for i, sealed := range sealOrder {
		d := filepath.Join(dir, fmt.Sprintf("seal-%d", i))
		creds, err := config.LoadCredentials(d)
		if err != nil {
			return nil, err
		}
		var opts []localdb.Option
		if sealed {
			opts = append(opts, localdb.WithSealer(keys))
		}
		db, err := localdb.Open(ctx, config.DBPath(d), schema, opts...)
		if err != nil {
			return nil, err
		}
		s := syncer.New(db, syncer.Options{Server: creds.Server, User: creds.User, Token: creds.Token, Device: creds.Device})
		c0, t0 := selfCPU(), time.Now()
		sum, err := s.RunOnce(ctx)
		k := 0
		if sealed {
			k = 1
		}
		wall[k] += time.Since(t0)
		cpu[k] += selfCPU() - c0
		s.Close()
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		if pulledMin < 0 || sum.Pulled < pulledMin {
			pulledMin = sum.Pulled
		}
	}
	runs := float64(len(sealOrder) / 2)
	n := float64(pulledMin) * runs
	return map[string]float64{
		"plain_records_per_s":   n / wall[0].Seconds(),
		"sealed_records_per_s":  n / wall[1].Seconds(),
		"time_ratio":            wall[1].Seconds() / wall[0].Seconds(),
		"plain_cpu_us_per_rec":  float64(cpu[0].Microseconds()) / n,
		"sealed_cpu_us_per_rec": float64(cpu[1].Microseconds()) / n,
		"cpu_ratio":             cpu[1].Seconds() / cpu[0].Seconds(),
		"pulled_min":            float64(pulledMin),
	}, nil
}

// selfCPU is the CPU time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
