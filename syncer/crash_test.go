package syncer_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver, for PRAGMA integrity_check on the client's file

	"casefile/config"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/vault"
)

// Crash test sizes; CASEFILE_CRASH_ITERATIONS and CASEFILE_CRASH_SEED
// change them.
const (
	crashIterations = 20
	crashNotes      = 80 // notes per import file
	crashBatch      = 20 // notes per import transaction
)

// TestCrashSafety builds the real binary and kills `casefile import` and
// `casefile sync` with SIGKILL at random moments, against a real server.
// After each kill the next command goes on from where the last stopped;
// at the end one sync leaves every imported note exactly once on the
// server, the client's file passes PRAGMA integrity_check and doctor is clean.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it many times")
	}
	if raceDetector {
		// The killed processes are the binary, built without the race
		// detector; make test runs this test in its line without -race.
		t.Skip("make test runs the crash test without -race")
	}
	iterations := envInt(t, "CASEFILE_CRASH_ITERATIONS", crashIterations)
	seed := uint64(envInt(t, "CASEFILE_CRASH_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("seed %d, %d iterations (replay: CASEFILE_CRASH_SEED=%d go test -run TestCrashSafety ./syncer)", seed, iterations, seed)
	rnd := rand.New(rand.NewPCG(seed, seed))

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	w := newWorld(t)
	// A little latency widens the windows between a request, the server's
	// commit, its answer and the local apply, where kills must be harmless.
	w.proxy.SetRandom(seed, faultproxy.Random{MaxLatency: 15 * time.Millisecond})
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	other := w.srv.NewUser(t, "other", server.RoleMember)
	data := filepath.Join(tmp, "data")
	if err := config.SaveCredentials(data, config.Credentials{Server: w.proxy.URL, User: "alice", Device: "crash", Token: alice.Token}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(tmp, "config.toml")
	if err := os.WriteFile(cfgPath, []byte("batch_size = 25\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"--data", data, "--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_CONFIG_HOME="+tmp)
		return cmd
	}
	mustRun := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := run(args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("casefile %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	// killAfter starts a command and kills it with SIGKILL after d (or lets
	// it finish first); it reports whether the kill landed.
	killAfter := func(d time.Duration, args ...string) bool {
		t.Helper()
		cmd := run(args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			return false
		case <-time.After(d):
			cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
			err := <-done
			var ee *exec.ExitError
			return errors.As(err, &ee) && !ee.Exited()
		}
	}

	matterID := strings.TrimSpace(mustRun("add", "matter", "title=Crash site"))
	mustRun("sync")
	if err := w.srv.Grant(context.Background(), "other", matterID); err != nil {
		t.Fatal(err)
	}

	var files [][]string // ids per import file
	titleOf := map[string]string{}
	kills := 0
	for i := range iterations {
		ids := make([]string, crashNotes)
		var lines strings.Builder
		for j := range ids {
			ids[j] = model.NewID()
			titleOf[ids[j]] = fmt.Sprintf("file %d note %d", i, j)
			line, _ := json.Marshal(map[string]any{"id": ids[j], "matter_id": matterID, "title": titleOf[ids[j]]})
			lines.Write(append(line, '\n'))
		}
		files = append(files, ids)
		file := filepath.Join(tmp, fmt.Sprintf("notes-%d.jsonl", i))
		if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		// Someone else writes too, so that pulls have work to be killed in.
		other.CreateNote(t, matterID, fmt.Sprintf("from the other side %d", i))

		if killAfter(time.Duration(rnd.IntN(250))*time.Millisecond, "import", "note", "--file", file, "--batch", strconv.Itoa(crashBatch)) {
			kills++
		}
		if killAfter(time.Duration(rnd.IntN(250))*time.Millisecond, "sync") {
			kills++
		}
	}
	t.Logf("%d of %d runs killed mid-way", kills, 2*iterations)

	// Finish the job: one sync from wherever the kills left things.
	w.proxy.SetRandom(seed, faultproxy.Random{})
	mustRun("sync")
	if out := mustRun("doctor"); !strings.Contains(out, "No problems found.") {
		t.Errorf("doctor after the crashes:\n%s", out)
	}
	checkIntegrity(t, config.DBPath(data))

	// The binary encrypted the directory with a key stored beside it (no
	// terminal, no passphrase).
	keys, err := vault.Unlock(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), config.DBPath(data), localdbtest.Schema(t), localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ops, err := db.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 0 {
		t.Errorf("%d ops left in the outbox after the final sync: %+v", len(ops), ops[0])
	}
	srv := liveRecords(serverRecords(t, alice))
	local, err := db.List(context.Background(), localdb.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	localIDs := map[string]bool{}
	for _, r := range local {
		localIDs[r.ID] = true
		if _, ok := srv[r.ID]; !ok {
			t.Errorf("%s is here but not on the server", r.ID)
		}
		if r.State != model.StateSynced {
			t.Errorf("%s is %s after the final sync", r.ID, r.State)
		}
	}
	imported := 0
	for i, ids := range files {
		n := 0
		for _, id := range ids {
			if localIDs[id] {
				n++
				rec := srv[id]
				if rec.Version != 1 {
					t.Errorf("note %s has version %d on the server: applied more than once", id, rec.Version)
				}
				// A create op's fields are its journal entry's: the
				// entry of its own note, whatever the kills cut.
				if rec.Fields["title"] != titleOf[id] {
					t.Errorf("note %s reached the server titled %v, want %q", id, rec.Fields["title"], titleOf[id])
				}
			}
		}
		// An import writes whole batches or nothing of a batch.
		if n%crashBatch != 0 {
			t.Errorf("file %d: %d notes imported, not whole batches of %d", i, n, crashBatch)
		}
		imported += n
	}
	if len(srv) != len(local) {
		t.Errorf("server holds %d records, the client %d", len(srv), len(local))
	}
	titles := map[any]bool{}
	for _, r := range srv {
		if titles[r.Fields["title"]] {
			t.Errorf("%v is on the server twice", r.Fields["title"])
		}
		titles[r.Fields["title"]] = true
	}
	t.Logf("%d notes imported across the kills, all on the server exactly once", imported)

	// A sync killed mid-push while another process keeps the database
	// open (the UI): that process takes its ops back, not only the next
	// start, and never while the sync still runs.
	db.Close()
	killedBeside(t, w, alice, config.DBPath(data), keys, matterID, mustRun, run)
}

// killedBeside holds the database open in this process as the UI would,
// starts `casefile sync` in another, kills it while its push is held on
// the way to the server, and checks that this process's next batch, once
// its sweep is due, takes the killed process's ops, and not before.
func killedBeside(t *testing.T, w *world, alice *servertest.Client, path string, keys *vault.Keys, matterID string, mustRun func(...string) string, run func(...string) *exec.Cmd) {
	t.Helper()
	for i := range 3 {
		mustRun("add", "note", "matter_id="+matterID, fmt.Sprintf("title=beside %d", i))
	}
	at := time.Now()
	var clock atomic.Int64
	clock.Store(at.UnixNano())
	ui, err := localdb.Open(context.Background(), path, localdbtest.Schema(t), localdb.WithSealer(keys),
		localdb.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Close()
	held, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	// The proxy holds its lock while the rule holds a push: the push goes
	// before the rule does, also when a check below fails.
	defer w.proxy.SetRule(nil)
	defer free()
	w.proxy.SetRule(func(p string, _ []byte) (faultproxy.Fault, bool) {
		if p == protocol.PathPush {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
		}
		return "", false
	})
	cmd := run("sync")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the sync's push never reached the server")
	}
	inFlight := func() (n int) {
		ops, err := ui.Outbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range ops {
			if o.State == localdb.OpSyncing {
				n++
			}
		}
		return n
	}
	if n := inFlight(); n != 3 {
		t.Fatalf("%d ops in flight while the sync's push is held, want 3", n)
	}
	clock.Add(int64(2 * time.Minute))
	if got, err := ui.NextBatch(context.Background(), time.Now(), 10); err != nil || len(got) != 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the open handle took a live sync's ops: %d, %v", len(got), err)
	}
	cmd.Process.Kill() // SIGKILL: its lock goes with it
	cmd.Wait()
	free()
	if got, err := ui.NextBatch(context.Background(), time.Now(), 10); err != nil || len(got) != 0 {
		t.Fatalf("the open handle swept again before its interval: %d, %v", len(got), err)
	}
	clock.Add(int64(2 * time.Minute))
	got, err := ui.NextBatch(context.Background(), time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("the open handle took %d of the killed sync's 3 ops, want all", len(got))
	}
	for _, o := range got {
		if o.Attempts != 2 || !o.Resent {
			t.Errorf("op %s taken back with %d attempts, resent %v: want its second send, as maybe sent", o.OpID, o.Attempts, o.Resent)
		}
	}
	if err := ui.Unclaim(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	ui.Close()
	mustRun("sync")
	titles := map[any]int{}
	for _, r := range liveRecords(serverRecords(t, alice)) {
		titles[r.Fields["title"]]++
	}
	for i := range 3 {
		if n := titles[fmt.Sprintf("beside %d", i)]; n != 1 {
			t.Errorf("beside %d is on the server %d times, want once", i, n)
		}
	}
}

func checkIntegrity(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check: %q %v", res, err)
	}
}

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a number", name, v)
	}
	return n
}
