package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"casefile/server/servertest"
)

// benchStreams is how many event streams BenchmarkHoldStreams holds.
const benchStreams = 10_000

// raiseFDLimit lifts this process's soft RLIMIT_NOFILE to its hard limit
// (the server process, started after, inherits it): 10,000 streams need
// 10,000 descriptors on each side.
func raiseFDLimit(b *testing.B, need uint64) {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < need {
		b.Skipf("RLIMIT_NOFILE hard limit %d is under the %d this benchmark needs (raise it with ulimit -Hn as root)", lim.Max, need)
	}
}

// BenchmarkHoldStreams opens 10,000 event streams of one user on a server
// running as its own process and reports the server's memory and file
// descriptors with them open, and how long one change takes to poke all
// of them (each poke checks the token and the matter again).
func BenchmarkHoldStreams(b *testing.B) {
	raiseFDLimit(b, benchStreams+1000)
	for range b.N {
		holdStreams(b)
	}
}

func holdStreams(b *testing.B) {
	url, pid := serverProcess(b, fmt.Sprintf("%s=%d", envProcStreamCap, benchStreams))
	ctx := context.Background()
	alice, err := servertest.Login(ctx, url, procBenchUser, procBenchPassword, "bench")
	if err != nil {
		b.Fatal(err)
	}
	matter := alice.CreateMatter(b, "Streams")
	idleRSS, idleFDs := procStatus(b, pid, "VmRSS"), openFDs(b, pid)
	addr := strings.TrimPrefix(url, "http://")
	req := []byte("GET /v1/events HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + alice.Token + "\r\n\r\n")

	conns := make([]net.Conn, benchStreams)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // dials at once
	errs := make(chan error, benchStreams)
	t0 := time.Now()
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := openStream(addr, req)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	opened := time.Since(t0)
	close(errs)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err := <-errs; err != nil {
		b.Fatalf("open stream: %v", err)
	}
	rss, peak, fds := procStatus(b, pid, "VmRSS"), procStatus(b, pid, "VmHWM"), openFDs(b, pid)

	// One change pokes every stream.
	t1 := time.Now()
	alice.CreateNote(b, matter.ID, "News for everyone")
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := waitFor(c, "event: poke"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	fanout := time.Since(t1)

	b.ReportMetric(float64(benchStreams), "streams")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(peak, "peak-rss-MB")
	b.ReportMetric((rss-idleRSS)*1024/benchStreams, "KB/stream")
	b.ReportMetric(float64(fds), "fds")
	b.ReportMetric(float64(fds-idleFDs), "fds-added")
	b.ReportMetric(opened.Seconds(), "open-s")
	b.ReportMetric(fanout.Seconds(), "poke-all-s")
}

// openStream sends a raw event-stream request and waits for its greeting.
func openStream(addr string, req []byte) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	if err := waitFor(c, ": connected"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// waitFor reads c until s has been read, for at most a minute.
func waitFor(c net.Conn, s string) error {
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	defer c.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	var seen []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		seen = append(seen, buf[:n]...)
		if bytes.Contains(seen, []byte(s)) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %q: %w (read %q)", s, err, seen)
		}
	}
}
