package server_test

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"casefile/server/servertest"
	"casefile/server/storetest"
)

// replica is a `casefile serve` child process.
type replica struct {
	cmd    *exec.Cmd
	url    string
	stderr chan string // lines after the listening line
}

func startReplica(t *testing.T, bin, dbURL string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--database", dbURL, "--log-level", "warn")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, stderr: make(chan string, 100)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	sc := bufio.NewScanner(pipe)
	re := regexp.MustCompile(`^casefile server listening on (http://\S+) \(store: postgres `)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			r.url = m[1]
			break
		}
		t.Logf("replica: %s", sc.Text())
	}
	if r.url == "" {
		t.Fatal("the replica never said where it listens")
	}
	go func() {
		defer close(r.stderr)
		for sc.Scan() {
			r.stderr <- sc.Text()
		}
	}()
	return r
}

// stop sends SIGTERM and checks for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range r.stderr {
		lines = append(lines, l)
	}
	if err := r.cmd.Wait(); err != nil || !strings.Contains(strings.Join(lines, "\n"), "casefile server stopped") {
		t.Fatalf("replica exit: %v; stderr %q", err, lines)
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func admin(t *testing.T, bin, dbURL, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"admin", "--database", dbURL}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestTwoReplicaProcesses runs the real binary twice on one PostgreSQL
// database: a client streaming from replica A is poked for a push through
// replica B and pulls it from A; both stop cleanly on SIGTERM.
func TestTwoReplicaProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbURL := storetest.PostgresURL(t)
	bin := buildBinary(t)
	ctx := context.Background()
	admin(t, bin, dbURL, "pw-of-alice\n", "user", "add", "alice")
	admin(t, bin, dbURL, "pw-of-bob\n", "user", "add", "bob")
	a := startReplica(t, bin, dbURL)
	b := startReplica(t, bin, dbURL)
	alice, err := servertest.Login(ctx, b.url, "alice", "pw-of-alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	m := alice.CreateMatter(t, "Across replicas")
	admin(t, bin, dbURL, "", "grant", "bob", m.ID)
	bob, err := servertest.Login(ctx, a.url, "bob", "pw-of-bob", "phone")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := bob.PullAll(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	cursor := pages[len(pages)-1].Cursor
	events := stream(t, a.url, bob.Token, "")
	greeting(t, events)
	note := alice.CreateNote(t, m.ID, "Through B")
	if seq := nextPoke(t, events); seq != note.Seq {
		t.Fatalf("poke on A = %d, want %d", seq, note.Seq)
	}
	page, err := bob.Pull(ctx, cursor, 0)
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != note.ID {
		t.Fatalf("pull on A = %+v, %v", page, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range events {
		}
	}()
	a.stop(t)
	b.stop(t)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream outlived its replica")
	}
}

// BenchmarkServeStartup measures how long `casefile serve` takes on an
// empty data directory until it says where it listens.
func BenchmarkServeStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var total time.Duration
	for range b.N {
		dir := b.TempDir()
		start := time.Now()
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir)
		pipe, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(pipe)
		for sc.Scan() && !strings.Contains(sc.Text(), "listening on") {
		}
		total += time.Since(start)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		for sc.Scan() {
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("serve exit: %v", err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(0, "ns/op")
}
