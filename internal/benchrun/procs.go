package benchrun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// benchPassword is the password of every user a bench creates.
const benchPassword = "bench-password-1"

// serverStartTimeout bounds the wait for a server's "listening" line.
const serverStartTimeout = 30 * time.Second

// exe runs the casefile binary with args and returns its stdout and the
// CPU time it used; stderr goes to the bench's log when it fails.
func (b *bench) exe(ctx context.Context, stdin string, args ...string) (string, time.Duration, error) {
	return b.exeEnv(ctx, nil, stdin, args...)
}

// exeEnv is exe with extra environment variables.
func (b *bench) exeEnv(ctx context.Context, extra []string, stdin string, args ...string) (string, time.Duration, error) {
	out, ps, err := b.run(ctx, extra, stdin, args...)
	return out, cpuOf(ps), err
}

// run runs the casefile binary with args and extra environment variables
// and returns its stdout and its ended process's state (CPU, peak memory).
func (b *bench) run(ctx context.Context, extra []string, stdin string, args ...string) (string, *os.ProcessState, error) {
	cmd := exec.CommandContext(ctx, b.bin, args...) // #nosec G204 -- the casefile binary under measurement
	cmd.Env = append(b.env(), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), cmd.ProcessState, fmt.Errorf("casefile %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), cmd.ProcessState, nil
}

// peakRSS is the most memory an ended process held resident, in bytes.
func peakRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) << 10 // KiB on Linux
	}
	return 0
}

// env is the environment of every child: no config file or server URL of
// the person running the bench leaks in.
// CASEFILE_CPUPROFILE, CASEFILE_TRACE and CASEFILE_ALLOCPROFILE pass
// through, so that every process of a scenario writes its profile or
// trace.
func (b *bench) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CASEFILE_") && !strings.HasPrefix(kv, "CASEFILE_CPUPROFILE=") && !strings.HasPrefix(kv, "CASEFILE_TRACE=") &&
			!strings.HasPrefix(kv, "CASEFILE_ALLOCPROFILE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "CASEFILE_CONFIG="+os.DevNull)
}

func cpuOf(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// serveProc is a running `casefile serve` with a byte-counting proxy in front.
type serveProc struct {
	cmd    *exec.Cmd
	addr   string // where the server itself listens
	proxy  *proxy
	stderr *bytes.Buffer
	done   chan error
}

// URL is the address clients use: the proxy's.
func (s *serveProc) URL() string { return "http://" + s.proxy.addr() }

// DirectURL bypasses the proxy (for loads whose bytes are not counted).
func (s *serveProc) DirectURL() string { return "http://" + s.addr }

// startServer runs `casefile serve` on a free loopback port with the
// store args (--data DIR or --database URL).
func (b *bench) startServer(ctx context.Context, store ...string) (*serveProc, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--log-level", "error"}, store...)
	cmd := exec.Command(b.bin, args...) // #nosec G204 -- the casefile binary under measurement
	cmd.Env = b.env()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	cmd.Stderr = io.MultiWriter(pw, &errb)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serveProc{cmd: cmd, stderr: &errb, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "casefile server listening on http://"); ok {
				found <- strings.Fields(rest)[0]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-found:
	case err := <-s.done:
		return nil, fmt.Errorf("casefile serve exited: %v: %s", err, errb.String())
	case <-time.After(serverStartTimeout):
		_ = cmd.Process.Kill()
		return nil, errors.New("casefile serve did not start")
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
	p, err := newProxy(s.addr)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.proxy = p
	return s, nil
}

// stop ends the server with SIGTERM and waits for it.
func (s *serveProc) stop() {
	if s.proxy != nil {
		s.proxy.close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// cpu is the CPU time the server has used so far.
func (s *serveProc) cpu() time.Duration { return procCPU(s.cmd.Process.Pid) }

// rss is the server's resident memory now and at its peak, in bytes.
func (s *serveProc) rss() (now, peak int64) { return procRSS(s.cmd.Process.Pid) }

// procCPU reads utime+stime of pid from /proc.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks
}

// procRSS reads VmRSS and VmHWM of pid from /proc.
func procRSS(pid int) (now, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			now = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return now, peak
}

// proxy forwards loopback TCP connections to a server, counting the bytes
// each way as they cross the connection (headers, chunking and compression
// included: what a network would carry above TCP).
type proxy struct {
	ln       net.Listener
	target   string
	up, down atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// counts returns the bytes sent to the server and received from it so far.
func (p *proxy) counts() (up, down int64) { return p.up.Load(), p.down.Load() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c, &p.up)
		go p.pipe(c, s, &p.down)
	}
}

func (p *proxy) pipe(dst, src net.Conn, n *atomic.Int64) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.Add(int64(k))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
