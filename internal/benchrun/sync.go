package benchrun

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// addUser creates a member with the bench password in the store.
// serveUser adds the member name to store and starts a server on it.
func (b *bench) serveUser(ctx context.Context, store []string, name string) (*serveProc, error) {
	if err := b.addUser(ctx, store, name); err != nil {
		return nil, err
	}
	return b.startServer(ctx, store...)
}

func (b *bench) addUser(ctx context.Context, store []string, name string) error {
	args := append([]string{"admin"}, store...)
	_, _, err := b.exe(ctx, benchPassword+"\n", append(args, "user", "add", name, "--role", "member")...)
	return err
}

// login logs a new client data directory in to srv as user.
func (b *bench) login(ctx context.Context, dir, url, user string) error {
	_, _, err := b.exe(ctx, benchPassword+"\n", "--data", dir, "login", "--server", url, "--user", user, "--device", filepath.Base(dir))
	return err
}

// syncRun is what one `casefile sync` process did.
type syncRun struct {
	wall, clientCPU, serverCPU time.Duration
	up, down                   int64
	clientRSS                  int64 // the client's peak resident memory, bytes
	pushed, pulled             int
}

// timedSync runs `casefile sync` in dir against srv and measures it: wall
// time from process start to exit, CPU on both sides, bytes each way.
func (b *bench) timedSync(ctx context.Context, srv *serveProc, dir string, env ...string) (syncRun, error) {
	up0, down0 := srv.proxy.counts()
	cpu0 := srv.cpu()
	t0 := time.Now()
	out, ps, err := b.run(ctx, env, "", "--data", dir, "sync")
	r := syncRun{wall: time.Since(t0), clientCPU: cpuOf(ps), serverCPU: srv.cpu() - cpu0, clientRSS: peakRSS(ps)}
	up1, down1 := srv.proxy.counts()
	r.up, r.down = up1-up0, down1-down0
	if err != nil {
		return r, err
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "pushed %d, pulled %d", &r.pushed, &r.pulled); err != nil {
		return r, fmt.Errorf("read the sync summary %q: %w", out, err)
	}
	return r, nil
}

// pushPull measures S2 (push n notes imported offline through `casefile
// sync`) and S3 (a fresh device's first sync of them) on one server.
// The push's figures are named with the prefix s2, the first sync's with s3.
func (b *bench) pushPull(ctx context.Context, dir string, n int, store []string, s2, s3 string) (map[string]float64, error) {
	file, err := b.notesFile(n)
	if err != nil {
		return nil, err
	}
	srv, err := b.serveUser(ctx, store, "alice")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	a := filepath.Join(dir, "laptop")
	if err := b.login(ctx, a, srv.URL(), "alice"); err != nil {
		return nil, err
	}
	if _, _, err := b.exe(ctx, "", "--data", a, "import", "--file", file); err != nil {
		return nil, err
	}
	records := n + benchMatters
	b.progress("push %d notes", n)
	push, err := b.timedSync(ctx, srv, a)
	if err != nil {
		return nil, err
	}
	if push.pushed != records {
		return nil, fmt.Errorf("the push sent %d records, want %d", push.pushed, records)
	}
	m := map[string]float64{}
	for k, v := range map[string]float64{
		"notes":                float64(n),
		"notes_per_s":          float64(n) / push.wall.Seconds(),
		"seconds":              push.wall.Seconds(),
		"client_cpu_s":         push.clientCPU.Seconds(),
		"client_rss_peak_mib":  float64(push.clientRSS) / (1 << 20),
		"server_cpu_s":         push.serverCPU.Seconds(),
		"client_cpu_us_per_op": float64(push.clientCPU.Microseconds()) / float64(records),
		"server_cpu_us_per_op": float64(push.serverCPU.Microseconds()) / float64(records),
		"up_bytes_per_note":    float64(push.up) / float64(records),
		"down_bytes_per_note":  float64(push.down) / float64(records),
		"redownloaded_pct":     100 * float64(push.pulled) / float64(push.pushed),
	} {
		m[s2+k] = v
	}
	for _, v := range []struct {
		name string
		env  []string
	}{{"", nil}, {"plain_", []string{envNoCompression + "=off"}}} {
		fresh := filepath.Join(dir, "fresh-"+strings.TrimSuffix(v.name, "_"))
		if err := b.login(ctx, fresh, srv.URL(), "alice"); err != nil {
			return nil, err
		}
		b.progress("first sync of %d notes%s", n, map[bool]string{true: " (no compression)"}[v.name != ""])
		pull, err := b.timedSync(ctx, srv, fresh, v.env...)
		if err != nil {
			return nil, err
		}
		if pull.pulled != records {
			return nil, fmt.Errorf("the first sync pulled %d records, want %d", pull.pulled, records)
		}
		p := s3 + v.name
		m[p+"down_bytes_per_note"] = float64(pull.down) / float64(records)
		if v.name != "" {
			continue
		}
		m[p+"notes"] = float64(n)
		m[p+"notes_per_s"] = float64(n) / pull.wall.Seconds()
		m[p+"seconds"] = pull.wall.Seconds()
		m[p+"client_cpu_s"] = pull.clientCPU.Seconds()
		m[p+"client_rss_peak_mib"] = float64(pull.clientRSS) / (1 << 20)
		m[p+"server_cpu_s"] = pull.serverCPU.Seconds()
		m[p+"up_bytes_per_note"] = float64(pull.up) / float64(records)
	}
	if s3 == "S3/" {
		// What encryption costs the first sync (at the default size only).
		sc, err := b.sealCost(ctx, dir, srv.URL(), records)
		if err != nil {
			return nil, err
		}
		for k, v := range sc {
			m[s3+"seal_"+k] = v
		}
	}
	return m, nil
}

// envNoCompression turns compressed transfer off in a client, to measure
// what an old or plain client sends and receives.
const envNoCompression = "CASEFILE_SYNC_COMPRESSION"

// importNotes measures S7: `casefile import` of n notes into a new device.
func (b *bench) importNotes(ctx context.Context, dir string, n int) (map[string]float64, error) {
	if n == 0 {
		n = b.opts.Notes
	}
	file, err := b.notesFile(n)
	if err != nil {
		return nil, err
	}
	b.progress("import %d notes", n)
	t0 := time.Now()
	_, cpu, err := b.exe(ctx, "", "--data", filepath.Join(dir, "client"), "import", "--file", file)
	wall := time.Since(t0)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"notes": float64(n), "seconds": wall.Seconds(), "notes_per_s": float64(n) / wall.Seconds(),
		"cpu_s": cpu.Seconds()}, nil
}
