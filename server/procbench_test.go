package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefile/server"
)

// The benchmarks that measure a server's memory run it as a process of
// its own (this test binary, re-executed into TestServerProcess), so that
// the client side's memory is not counted.
const (
	envProcDir         = "CASEFILE_BENCH_SERVER_DIR"
	envProcLoginConc   = "CASEFILE_BENCH_LOGIN_CONCURRENCY"
	envProcStreamCap   = "CASEFILE_BENCH_STREAM_CAP"
	procBenchUser      = "alice"
	procBenchPassword  = "correct horse battery staple"
	procReadyLinePrefx = "listening "
)

// TestServerProcess is not a test: run by serverProcess with envProcDir
// set, it serves with the default password cost until its stdin closes.
func TestServerProcess(t *testing.T) {
	dir := os.Getenv(envProcDir)
	if dir == "" {
		t.Skip("the server process of the memory benchmarks")
	}
	opts := server.Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), CompactEvery: -1, RateLimit: -1}
	if v := os.Getenv(envProcLoginConc); v != "" {
		opts.LoginConcurrency, _ = strconv.Atoi(v)
	}
	if v := os.Getenv(envProcStreamCap); v != "" {
		n, _ := strconv.Atoi(v)
		opts.StreamsPerToken, opts.StreamsPerUser = n, n
	}
	ctx := context.Background()
	srv, err := server.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.AddUser(ctx, procBenchUser, procBenchPassword, server.RoleMember); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("%s%s\n", procReadyLinePrefx, ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// serverProcess starts TestServerProcess with extra environment and
// returns its URL and pid; it ends when the benchmark does.
func serverProcess(b *testing.B, env ...string) (string, int) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.v") // #nosec G204 -- this test binary
	cmd.Env = append(os.Environ(), append(env, envProcDir+"="+b.TempDir())...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), procReadyLinePrefx); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return "http://" + addr, cmd.Process.Pid
		}
	}
	b.Fatalf("the server process ended before listening: %v", sc.Err())
	return "", 0
}

// procStatus reads a "kB" field of /proc/PID/status, in MiB.
func procStatus(b *testing.B, pid int, field string) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("%s: %v", field, err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// openFDs counts a process's open file descriptors.
func openFDs(b *testing.B, pid int) int {
	b.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		b.Fatal(err)
	}
	return len(ents)
}

// lowest returns the lowest value f takes over d (memory being returned
// to the operating system), read four times a second.
func lowest(d time.Duration, f func() float64) float64 {
	v := f()
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(250 * time.Millisecond)
		v = min(v, f())
	}
	return v
}
