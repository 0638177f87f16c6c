package benchrun_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSmall runs `casefile bench` at a tiny size: every scenario it
// was asked for prints its figures in the one JSON object on stdout, the
// counts it checks hold (every note pushed and pulled), and progress goes
// to stderr only.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts servers")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	only, pg := "S1,S2,S4,S5,S7", os.Getenv("CASEFILE_TEST_POSTGRES")
	args := []string{"--notes", "60", "--big-notes", "0",
		"--streams", "40", "--pushers", "4", "--push-for", "1s", "--singles", "3", "--dir", tmp}
	if pg != "" {
		only += ",S6"
		args = append(args, "--postgres", pg)
	}
	cmd := exec.Command(bin, append([]string{"bench", "--only", only}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\n%s", err, errb.String())
	}
	var res struct {
		Scenarios map[string]map[string]float64
		Errors    map[string]string
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if len(res.Errors) > 0 {
		t.Fatalf("scenarios failed: %v", res.Errors)
	}
	want := map[string][]string{
		"S1": {"write_p99_us", "floor_p99_us", "p99_ratio"},
		"S2": {"notes_per_s", "redownloaded_pct", "up_bytes_per_note", "server_cpu_us_per_op"},
		"S3": {"notes_per_s", "down_bytes_per_note", "plain_down_bytes_per_note"},
		"S4": {"single_p50_ms", "burst_p99_ms"},
		"S5": {"push_p99_ms", "poke_p99_ms", "server_rss_peak_mib", "writes_per_s", "write_wait_mean_ms", "write_held_mean_ms", "write_held_share"},
		"S7": {"seconds", "notes_per_s"},
	}
	if pg != "" {
		// S6 runs S2, S3 and S5 on PostgreSQL, and says how many times
		// slower than SQLite's in this run each of them was.
		want["S6"] = []string{"push_notes_per_s", "pull_notes_per_s", "replicas2_push_p99_ms",
			"push_x_sqlite", "pull_x_sqlite", "replicas2_push_p99_x_sqlite"}
	}
	for id, keys := range want {
		for _, k := range keys {
			if v, ok := res.Scenarios[id][k]; !ok || v < 0 {
				t.Errorf("%s.%s = %v, %v; want a figure", id, k, v, ok)
			}
		}
	}
	if n := res.Scenarios["S5"]["pushes"]; n < 1 || res.Scenarios["S5"]["push_errors"] != 0 || res.Scenarios["S5"]["streams_failed"] != 0 {
		t.Errorf("S5: %v", res.Scenarios["S5"])
	}
	// One server's write lock is held, one write at a time, for a share
	// of the push phase: above nothing and, but for the writes that
	// straddle its ends, not above all of it.
	if s5 := res.Scenarios["S5"]; s5["writes_per_s"] <= 0 || s5["write_held_share"] <= 0 || s5["write_held_share"] > 1.05 {
		t.Errorf("S5's write lock: %v writes/s, held %v of the time", s5["writes_per_s"], s5["write_held_share"])
	}
	if !strings.Contains(errb.String(), "bench: S2 run 1/1") {
		t.Errorf("no progress on stderr: %q", errb.String())
	}
}
