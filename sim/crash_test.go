package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"casefile/assets"
	"casefile/config"
	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/sqlitestore"
	"casefile/vault"
)

// Kills per phase of TestCrash in CI: 109 in all (make soak's
// CASEFILE_SIM_KILLS=N sets the total, split in the same proportions).
var crashKills = map[string]int{"start": 24, "import": 20, "sync": 20, "undo": 10, "pull": 15, "repair": 10, "attach": 10}

// crashPhases are TestCrash's phases, in the order they run.
var crashPhases = []string{"start", "import", "sync", "undo", "pull", "repair", "attach"}

// TestCrash builds the real casefile binary and kills it with SIGKILL at
// seeded random moments: during a new data directory's first command
// (which makes its key, then its database: the next one starts it
// whatever the moment), during `casefile import` (whole batches or
// nothing, resumed from where it stopped), during `casefile sync` pushing
// thousands of ops (no op applied twice, whatever the kill), and during a
// fresh client's first pull (pages applied whole, with their cursor),
// and during `casefile doctor --repair` of a damaged database with
// changes queued (none lost, whatever the moment), and during `casefile
// attach` in a directory where a revocation's wipe kept a file (no byte
// left that no row names outlives the next attach, the kept file stays).
// After every kill `casefile doctor --json` is clean and PRAGMA
// integrity_check is ok; at the end every record is on the server exactly
// once and the clients hold exactly the server's records.
//
// TestCrashSafety in syncer kills import and sync too and checks the end
// state; this test checks after each kill, and adds the pull.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it a hundred times")
	}
	if raceEnabled {
		// The killed process is the binary, built without the race
		// detector; make test runs this test in a line without -race.
		t.Skip("the crash test runs without -race (make test's last line)")
	}
	seed := uint64(1)
	if s := os.Getenv("CASEFILE_SIM_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CASEFILE_SIM_KILL_SEED=%q: not a seed", s)
		}
		seed = v
	}
	kills := crashKills
	if s := os.Getenv("CASEFILE_SIM_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < len(crashPhases) {
			t.Fatalf("CASEFILE_SIM_KILLS=%q: want a number of at least %d", s, len(crashPhases))
		}
		sum := 0
		for _, ph := range crashPhases {
			sum += crashKills[ph]
		}
		kills = map[string]int{}
		left := n
		for _, ph := range crashPhases[:len(crashPhases)-1] {
			kills[ph] = max(1, n*crashKills[ph]/sum)
			left -= kills[ph]
		}
		kills[crashPhases[len(crashPhases)-1]] = max(1, left)
	}
	t.Logf("seed %d (the kill moments are seeded, the process's speed is not: CASEFILE_SIM_KILL_SEED=%d go test -run TestCrash ./sim)", seed, seed)
	r := newCrashRig(t, seed)
	run := map[string]func(int){"start": r.startPhase, "import": r.importPhase, "sync": r.syncPhase, "undo": r.undoPhase, "pull": r.pullPhase, "repair": r.repairPhase, "attach": r.attachPhase}
	for _, ph := range crashPhases {
		began := time.Now()
		run[ph](kills[ph])
		t.Logf("%s: %d kills in %s", ph, r.kills[ph], time.Since(began).Round(time.Millisecond))
	}
	var each []string
	for _, ph := range crashPhases {
		each = append(each, fmt.Sprintf("%s %d", ph, r.kills[ph]))
	}
	t.Logf("crash tests: %d kills landed in %d runs (%s); %d notes; %d local edits; %d matters deleted with their records",
		r.total(), r.runs, strings.Join(each, ", "), len(r.ids), len(r.edits), r.cascades)
	fmt.Printf("sim crash summary: %d SIGKILLs (%s) in %d runs, %d notes, %d edits\n",
		r.total(), strings.Join(each, ", "), r.runs, len(r.ids), len(r.edits))
}

// crashRig is the real binary, a real server, and the data directories of
// the clients it runs.
type crashRig struct {
	t      *testing.T
	rnd    *rand.Rand
	schema *model.Schema
	dir    string
	bin    string
	cfg    string
	srv    *servertest.Server
	reader store.Store
	alice  *servertest.Client
	matter string

	data   string            // the first client's data directory
	ids    []string          // every imported note, in import order
	edits  map[string]string // note → title of its last acknowledged local edit
	nedits map[string]int    // note → acknowledged local edits
	kills  map[string]int
	runs   int
	// cascades counts matters deleted with their records between sync
	// runs; doomed is the matter made for the next one.
	cascades int
	doomed   string
	est      map[string]time.Duration // how long a run of a job takes unkilled
}

func newCrashRig(t *testing.T, seed uint64) *crashRig {
	dir, err := os.MkdirTemp(simDir(), "casefile-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	r := &crashRig{t: t, rnd: rand.New(rand.NewPCG(seed, seed^0x7f4a7c15)), schema: schema, dir: dir,
		bin: filepath.Join(dir, "casefile"), cfg: filepath.Join(dir, "config.toml"), data: filepath.Join(dir, "client"),
		edits: map[string]string{}, nedits: map[string]int{}, kills: map[string]int{},
		est: map[string]time.Duration{"start": 50 * time.Millisecond, "repair": 100 * time.Millisecond, "import": 300 * time.Millisecond, "sync": time.Second, "undo": 100 * time.Millisecond, "pull": 500 * time.Millisecond, "attach": 100 * time.Millisecond}}
	build := exec.Command("go", "build", "-o", r.bin, ".")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Small pushes: a sync of the imported notes makes hundreds of them.
	if err := os.WriteFile(r.cfg, []byte("batch_size = 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.srv = servertest.Start(t, func(o *server.Options) { o.RateLimit = -1 })
	if r.reader, err = sqlitestore.Open(context.Background(), filepath.Join(r.srv.Dir, sqlitestore.FileName)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.reader.Close() })
	r.alice = r.srv.NewUser(t, "alice", server.RoleMember)
	r.matter = r.alice.CreateMatter(t, "Crash site").ID
	r.login(r.data, "first")
	r.mustRun(r.data, "sync") // the matter, so that imports may refer to it
	return r
}

// login saves credentials of a new device of alice in a data directory.
func (r *crashRig) login(data, device string) { r.loginAs(data, "alice", device) }

// loginAs saves credentials of a new device of user in a data directory.
func (r *crashRig) loginAs(data, user, device string) {
	c, err := servertest.Login(context.Background(), r.srv.URL, user, servertest.Password, device)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := config.SaveCredentials(data, config.Credentials{Server: r.srv.URL, User: user, Device: device, Token: c.Token}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *crashRig) total() int {
	n := 0
	for _, k := range r.kills {
		n += k
	}
	return n
}

func (r *crashRig) command(data string, args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, append([]string{"--data", data, "--config", r.cfg}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+r.dir, "XDG_CONFIG_HOME="+r.dir, "XDG_STATE_HOME="+r.dir)
	return cmd
}

func (r *crashRig) mustRun(data string, args ...string) string {
	r.t.Helper()
	var out, errb bytes.Buffer
	cmd := r.command(data, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("casefile %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// run starts a job and kills it with SIGKILL after a random part of how
// long the job takes unkilled. It reports whether the kill landed, and
// the exit code and output of a run that finished first.
func (r *crashRig) run(job, data string, args ...string) (killed bool, code int, out string) {
	r.t.Helper()
	return r.runAt(job, time.Duration(r.rnd.Float64()*1.2*float64(r.est[job])), data, args...)
}

// runAt starts a job and kills it with SIGKILL after delay, as run does.
func (r *crashRig) runAt(job string, delay time.Duration, data string, args ...string) (killed bool, code int, out string) {
	r.t.Helper()
	killed, code, out = r.killAt(job, delay, data, args...)
	if killed {
		r.afterKill(data)
	}
	return killed, code, out
}

// killAt is runAt without the checks after a kill, for a job whose next
// step is not doctor finding nothing (a repair cut off is run again).
func (r *crashRig) killAt(job string, delay time.Duration, data string, args ...string) (killed bool, code int, out string) {
	r.t.Helper()
	r.runs++
	var buf bytes.Buffer
	cmd := r.command(data, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	began := time.Now()
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
		// Finished first: the estimate was long; learn from it.
		r.est[job] = max(20*time.Millisecond, (r.est[job]+time.Since(began))/2)
	case <-timer.C:
		if kerr := cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
			r.t.Fatal(kerr)
		}
		err = <-done
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			r.kills[job]++
			return true, -1, buf.String()
		}
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, 0, buf.String()
	case errors.As(err, &ee):
		return false, ee.ExitCode(), buf.String()
	}
	r.t.Fatalf("casefile %s: %v", strings.Join(args, " "), err)
	return false, 0, ""
}

// afterKill checks a killed client: doctor finds nothing, SQLite finds
// the file intact, searches find what the client holds, and no temporary
// file of a killed write outlives the next command.
func (r *crashRig) afterKill(data string) {
	r.t.Helper()
	hidden := r.ageHidden(data)
	var out, errb bytes.Buffer
	cmd := r.command(data, "doctor", "--json")
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	for _, name := range hidden {
		if _, err := os.Lstat(filepath.Join(data, name)); err == nil {
			r.t.Errorf("after kill %d, %s (a temporary file a minute old) outlived the next command", r.total(), name)
		}
	}
	var rep struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		r.t.Fatalf("after a kill, doctor --json printed no report (%v): %s %s", runErr, out.String(), errb.String())
	}
	if !rep.OK || runErr != nil {
		r.t.Errorf("after kill %d, doctor: %q (%v)", r.total(), rep.Problems, runErr)
	}
	bad, err := integrityCheck(config.DBPath(data))
	if err != nil {
		r.t.Fatal(err)
	}
	if len(bad) > 0 {
		r.t.Errorf("after kill %d, PRAGMA integrity_check: %q", r.total(), bad)
	}
	r.local(data, func(db *localdb.DB) {
		recs, err := db.List(context.Background(), localdb.ListQuery{})
		if err != nil {
			r.t.Fatal(err)
		}
		probs, err := searchProblems(context.Background(), db, recs, false)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, p := range probs {
			r.t.Errorf("after kill %d: %s", r.total(), p)
		}
	})
}

// ageHidden makes every hidden file of the data directory (the temporary
// files of writes: casefile keeps no other) older than a sweep's minute,
// as if the kill were that long ago, and returns their names. Nothing
// else runs on data now, so none of them is a live write's.
func (r *crashRig) ageHidden(data string) []string {
	r.t.Helper()
	es, err := os.ReadDir(data)
	if errors.Is(err, os.ErrNotExist) {
		return nil // killed before it made the directory
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var names []string
	at := time.Now().Add(-2 * time.Minute)
	for _, e := range es {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := os.Chtimes(filepath.Join(data, e.Name()), at, at); err != nil {
			r.t.Fatal(err)
		}
		names = append(names, e.Name())
	}
	return names
}

// local opens a client's database (no casefile runs then) and calls fn.
func (r *crashRig) local(data string, fn func(db *localdb.DB)) {
	r.t.Helper()
	// The binary encrypted the directory with a key stored beside it (no
	// terminal, no passphrase): every crashed client runs encrypted.
	keys, err := vault.Unlock(data, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), config.DBPath(data), r.schema, localdb.WithSealer(keys))
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	fn(db)
}

// heldIDs returns the ids of the live records a client holds.
func (r *crashRig) heldIDs(data string) map[string]bool {
	held := map[string]bool{}
	r.local(data, func(db *localdb.DB) {
		recs, err := db.List(context.Background(), localdb.ListQuery{})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, rec := range recs {
			held[rec.ID] = true
		}
	})
	return held
}

// serverState reads every record and the audited changes of each.
func (r *crashRig) serverState() (map[string]store.Record, map[string]int64) {
	recs, audited := map[string]store.Record{}, map[string]int64{}
	ctx := context.Background()
	err := r.reader.Read(ctx, func(rd store.Reader) error {
		head, err := rd.Head(ctx)
		if err != nil {
			return err
		}
		all, err := rd.Changes(ctx, store.ChangeQuery{All: true, UpTo: head.Seq})
		if err != nil {
			return err
		}
		for _, rec := range all {
			recs[rec.ID] = rec
		}
		for after := int64(0); ; {
			rows, err := rd.Audit(ctx, after, 1000)
			if err != nil {
				return err
			}
			for _, a := range rows {
				after = a.ID
				if _, id, ok := strings.Cut(a.Target, "/"); ok && slices.Contains([]string{"create", "restore", "update", "delete"}, a.Action) {
					audited[id]++
				}
			}
			if len(rows) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return recs, audited
}

// checkOnce checks that no op took effect twice on the server: each
// record's version counts its audited changes, and a note never edited
// here was created once and never changed.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (r *crashRig) checkOnce(when string) map[string]store.Record {
	r.t.Helper()
	recs, audited := r.serverState()
	for id, rec := range recs {
		if audited[id] != rec.Version {
			r.t.Errorf("%s: record %s is at version %d with %d audited changes", when, id, rec.Version, audited[id])
		}
		// A note deleted with its matter took one more version.
		if once := int64(1) + b2i(rec.Deleted); rec.Collection == "note" && r.nedits[id] == 0 && rec.Version != once {
			r.t.Errorf("%s: note %s, never edited, is at version %d: an op took effect twice", when, id, rec.Version)
		}
		if n := r.nedits[id]; n > 0 && rec.Version > int64(1+n)+b2i(rec.Deleted) {
			r.t.Errorf("%s: note %s, edited %d time(s), is at version %d", when, id, n, rec.Version)
		}
	}
	return recs
}
