package sim

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casefile/assets"
	"casefile/internal/faultproxy"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store"
	"casefile/server/store/pgstore"
	"casefile/server/store/sqlitestore"
	"casefile/server/storemove"
	"casefile/server/storetest"
	"casefile/syncer"
	"casefile/vault"
)

// scenario sizes one scenario.
type scenario struct {
	clients   int     // devices, each with its own local database and syncer
	users     int     // users the devices log in as (clients > users: one user on two devices)
	writes    int     // local writes each client makes
	faultRate float64 // share of requests that meet a fault
	pgURL     string  // "" for the SQLite store
	// moveTo, with the SQLite store, is a PostgreSQL URL the server's
	// store moves to halfway through the writes (casefile admin move-to);
	// the scenario goes on there.
	moveTo string
	mix    []mixShare // the faults' shares among faulty requests; nil for faultMix
}

// world is one scenario: a real server (SQLite or PostgreSQL) behind a
// faultproxy, and clients, each with its own link, database and syncer.
// Every decision comes from one seeded stream and steps run one at a time,
// so a seed replays the scenario.
type world struct {
	t      testing.TB
	seed   uint64
	cfg    scenario
	ctx    context.Context
	schema *model.Schema
	dir    string

	rmu  sync.Mutex // the handlers of the links draw from rnd too
	rnd  *rand.Rand
	frnd *rand.Rand // the faults of file requests (files_test.go): their number follows real retry timers
	arnd *rand.Rand // when and what a client attaches: apart from frnd, so those timers never move an attach
	vrnd *rand.Rand // device revocations' own stream (revoke_test.go)
	brnd *rand.Rand // which backup a fresh device restores (backup_test.go)
	prnd *rand.Rand // which crashes leave a file doctor --repair rebuilds (crash_repair_test.go)
	ernd *rand.Rand // edits of attachments (files_test.go)
	// revokeOdds is the chance of a device revocation after a step
	// (revokeOdds the constant; a test of revocations raises it).
	revokeOdds float64
	healed     bool

	srv    *server.Server
	srvURL string
	// db is the link between the server and PostgreSQL (PostgreSQL
	// scenarios): a sync may lose its commit's answer there (dbfault_test.go).
	db   *faultproxy.Link
	drnd *rand.Rand // those faults' own stream
	crnd *rand.Rand // connections cut before an administrator's write (dbfault_test.go)
	mrnd *rand.Rand // connections cut in the middle of a push group (dbfault_test.go)
	rrnd *rand.Rand // connections cut in the middle of a read (dbfault_test.go)
	// groupCut is the server's record store in a PostgreSQL scenario,
	// which cuts its connections in the middle of a push group when armed;
	// readCut is the same store cutting them in the middle of a read.
	groupCut *storetest.GroupCut
	readCut  *storetest.ReadCut
	beside   *beside // opens of a device's database by another process (beside_test.go)
	dbLost   int     // commit answers the link has lost
	srvDone  chan struct{}
	srvLog   *failureLog // the requests the server failed
	reader   store.Store // a second handle on the server's store, for the checks
	fp       *faultproxy.Proxy

	users   []*user
	clients []*client

	ids   []string          // every record id in the order the harness met it
	index map[string]int    // record id → position in ids
	kinds map[string]string // record id → collection
	hot   []hotField        // recent edits, for overlapping ones

	// ledger is the harness's copy of every answer the server stored,
	// taken before each compaction erases them.
	ledger map[string]protocol.OpResult

	marks      []mark            // moments a partial compaction may cut at
	retiredOps []string          // op ids of the journals of devices replaced by fresh ones
	backups    map[string]backup // user → the last backup of one of their devices (backup_test.go)
	backupTurn int               // the device the next backup is of
	entries    []entry
	withdrawn  map[wkey]int // what a person took back (discard, resolve), at which write
	// resets counts the values undos set back, and those a backup took to
	// the server ahead of the device's own ops, by record, field and
	// value: each may take effect once more than a unique value.
	resets map[string]int
	// cameBackWith names, for a record an undo restored with another (a
	// file with its record, a record with its matter), that other one:
	// a later delete of it takes the record with it.
	cameBackWith map[string]string
	// cascaded names, by client and matter, the records a client's last
	// cascade delete of the matter took with it: an undo that brings the
	// matter back brings back every one still on the device.
	cascaded map[string][]string
	nwrite   int

	step  int // written under rmu, which the links' handlers read it under
	trace hash.Hash64
	tail  []string // the last steps, printed on failure
	stats *stats
	bad   []string // invariant violations

	closed  bool
	verbose bool // CASEFILE_SIM_TRACE: print every step, run Doctor after each

	// pullPageBytes is the byte budget of the server's pull pages
	// (pullPageBudget; 0: the server's default).
	pullPageBytes int
	// pushAnswerBytes bounds the server's push answers
	// (pushAnswerBudget; 0: the server's default); restarts counts the
	// server's restarts, each of which draws a small bound again.
	pushAnswerBytes int
	restarts        int
	// arrivals holds which files' arrivals already failed their audit
	// row, across the server's restarts.
	arrivals *arrivalsFailed
}

type user struct {
	name   string
	admin  bool
	viewer bool
}

// client is one device.
type client struct {
	i           int
	name        string
	user        *user
	token       string
	path        string
	batch, page int
	link        *link
	db          *localdb.DB
	s           *syncer.Syncer
	dead        []*localdb.DB // handles abandoned by crashes, closed at the end only
	workOffline bool
	full        atomic.Bool // its disk is full: every write transaction fails (beside_test.go)
	// restoring: a fresh device's first syncs, after its backup's import
	// and before checkRestored; its person edits none of its files then.
	restoring   bool
	offlineLeft int   // syncs to go without network
	cursor      int64 // the highest cursor seen: it must never go back, but in a full resync
	resyncSeen  int64 // the journal seq up to which full resyncs were counted
	writes      int
	keys        *vault.Keys // odd clients keep their database encrypted
	gen         int         // fresh installs of this device
	// past holds, newest first, the journals of the files repairs put
	// aside (crash_repair_test.go): the device's history goes on there.
	past []localdb.JournalEntry
}

// password is every simulated user's password.
const password = "correct horse battery staple"

// simDir is where scenarios keep their databases: tmpfs when there is one
// (real files and real SQLite, without the cost of fsync).
func simDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func newWorld(t testing.TB, seed uint64, cfg scenario, st *stats) *world {
	t.Helper()
	dir, err := os.MkdirTemp(simDir(), "casefile-sim-")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{
		t: t, seed: seed, cfg: cfg, ctx: context.Background(), schema: schema, dir: dir,
		rnd:          rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)),
		frnd:         newFileRand(seed),
		arnd:         newAttachRand(seed),
		vrnd:         newRevokeRand(seed),
		brnd:         newBackupRand(seed),
		prnd:         newRepairRand(seed),
		ernd:         newFileEditRand(seed),
		revokeOdds:   revokeOdds,
		index:        map[string]int{},
		kinds:        map[string]string{},
		withdrawn:    map[wkey]int{},
		backups:      map[string]backup{},
		resets:       map[string]int{},
		cameBackWith: map[string]string{},
		cascaded:     map[string][]string{},
		ledger:       map[string]protocol.OpResult{},
		trace:        fnv.New64a(),
		stats:        st,
		verbose:      os.Getenv("CASEFILE_SIM_TRACE") != "",

		pullPageBytes:   pullPageBudget(seed),
		pushAnswerBytes: pushAnswerBudget(seed),
		srvLog:          &failureLog{},
		beside:          newBeside(seed),
	}
	t.Cleanup(w.close)
	if cfg.pgURL != "" {
		if w.db, err = newDBLink(cfg.pgURL); err != nil {
			t.Fatal(err)
		}
		w.drnd = newDBFaultRand(seed)
	}
	w.startServer()
	if w.fp, err = faultproxy.New(w.srvURL); err != nil {
		t.Fatal(err)
	}
	if w.reader, err = w.openReader(); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.users {
		u := &user{name: fmt.Sprintf("u%d", i)}
		role := server.RoleMember
		if i == cfg.users-1 && w.intn(5) == 0 {
			u.admin, role = true, server.RoleAdmin
		}
		// One scenario in ten has a viewer, who may read and not write.
		// (Drawn from the seed, not the stream: other seeds run as before.)
		if i == cfg.users-1 && !u.admin && seed%10 == 3 {
			u.viewer, role = true, server.RoleViewer
		}
		if err := w.srv.AddUser(w.ctx, u.name, password, role); err != nil {
			t.Fatal(err)
		}
		w.users = append(w.users, u)
	}
	for i := range cfg.clients {
		c := &client{i: i, name: fmt.Sprintf("c%d", i), user: w.users[i%len(w.users)],
			path: filepath.Join(dir, fmt.Sprintf("c%d.db", i)), batch: 1 + w.intn(20), page: 5 + w.intn(40)}
		login, err := servertest.Login(w.ctx, w.srvURL, c.user.name, password, c.name)
		if err != nil {
			t.Fatal(err)
		}
		c.token = login.Token
		// Every other client is encrypted (by index, so that the seeds
		// draw the same histories as before).
		if i%2 == 1 {
			if c.keys, err = vault.NewRandom(); err != nil {
				t.Fatal(err)
			}
		}
		if c.link, err = newLink(w, c.name, w.fp); err != nil {
			t.Fatal(err)
		}
		w.openClient(c)
		w.clients = append(w.clients, c)
	}
	st.inc("scenarios", 1)
	st.inc("clients", cfg.clients)
	return w
}

// serverOptions are the options of every start of the scenario's server.
func (w *world) serverOptions() server.Options {
	o := server.Options{
		Logger:       slog.New(w.srvLog),
		Password:     server.HashParams{Time: 1, MemoryKiB: 64, Threads: 1},
		CompactEvery: -1, // the scenario compacts as one of its steps
		// Compaction keeps nothing: every answer, tombstone, move and
		// access event older than the step that compacts goes.
		Retention: time.Nanosecond,
		RateLimit: -1,
		Heartbeat: 50 * time.Millisecond,

		PullPageBytes:   w.pullPageBytes,
		PushAnswerBytes: w.pushAnswerBytes,
	}
	if w.cfg.pgURL != "" {
		o.DatabaseURL = w.cfg.pgURL
		if w.db != nil {
			o.DatabaseURL = viaLink(w.cfg.pgURL, w.db)
		}
	} else {
		o.DataDir = filepath.Join(w.dir, "server")
	}
	return o
}

// pullPageBudget is the byte budget of the pull pages of the scenario of
// seed: in a third of the scenarios a small one, so that devices take
// pages shorter than they ask for (one record, a few) through every
// fault; the server's default (0) in the others, whose pages of small
// notes it never cuts. Drawn from the seed, not the stream, so that other
// draws run as before.
func pullPageBudget(seed uint64) int {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/pull page bytes", seed)
	switch h.Sum64() % 9 {
	case 0:
		return 256 // a record a page
	case 1:
		return 1 << 10
	case 2:
		return 4 << 10
	}
	return 0
}

// pushAnswerBudget bounds the push answers of the scenario of seed: in a
// third of the scenarios a small bound, which a batch of a few of the
// scenarios' records passes, so that the server refuses batches as
// answer_too_large (undoing them in the middle of a group) and devices
// split them, through every fault; the server's default (0) in the
// others, which the devices' own sizing keeps under. Drawn from the
// seed, not the stream, so that other draws run as before.
func pushAnswerBudget(seed uint64) int {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/push answer bytes", seed)
	if n := h.Sum64() % 9; n < uint64(len(smallAnswerBounds)) {
		return smallAnswerBounds[n]
	}
	return 0
}

// smallAnswerBounds are the bounds a scenario's server may hold its push
// answers to: 512 bytes, which any two results pass, to 8 KiB.
var smallAnswerBounds = []int{512, 2 << 10, 8 << 10}

// redrawAnswerBound gives a server restarted with a small bound a small
// bound drawn again (from the seed and the restart, not the stream), as an
// operator may change it: devices that heard a larger one have their
// batches refused, and take them again by the bound the refusal names.
func (w *world) redrawAnswerBound() {
	w.restarts++
	if w.pushAnswerBytes == 0 {
		return
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/push answer bytes/%d", w.seed, w.restarts)
	if n := smallAnswerBounds[h.Sum64()%uint64(len(smallAnswerBounds))]; n != w.pushAnswerBytes {
		w.tracef("the server's push answers are bounded at %d bytes, not %d", n, w.pushAnswerBytes)
		w.pushAnswerBytes = n
	}
}

// openServerStores opens the record and file stores the server of o
// runs on into o: its file arrivals' audit rows failing as arrivalFaults
// draws them, and their notes kept after the row as noteFaults does.
func (w *world) openServerStores(o *server.Options) error {
	var st store.Store
	var err error
	if o.DatabaseURL != "" {
		st, err = pgstore.Open(w.ctx, o.DatabaseURL, pgstore.WithLogger(o.Logger))
	} else {
		st, err = sqlitestore.Open(w.ctx, filepath.Join(o.DataDir, sqlitestore.FileName))
	}
	if err != nil {
		return err
	}
	if o.DatabaseURL != "" && w.db != nil {
		w.groupCut = &storetest.GroupCut{Store: st, Link: w.db}
		w.readCut = &storetest.ReadCut{Store: w.groupCut, Link: w.db}
		st = w.readCut
	}
	blobs, err := server.OpenBlobs(w.ctx, *o)
	if err != nil {
		st.Close()
		return err
	}
	if w.arrivals == nil {
		w.arrivals = &arrivalsFailed{failed: map[string]bool{}}
	}
	o.Store = &arrivalFaults{Store: st, seed: w.seed, stats: w.stats, arrivalsFailed: w.arrivals}
	o.Blobs = &noteFaults{Store: blobs, seed: w.seed, stats: w.stats, arrivalsFailed: w.arrivals}
	return nil
}

func (w *world) openReader() (store.Store, error) {
	if w.cfg.pgURL != "" {
		return pgstore.Open(w.ctx, w.cfg.pgURL)
	}
	return sqlitestore.Open(w.ctx, filepath.Join(w.dir, "server", sqlitestore.FileName))
}

func (w *world) startServer() {
	o := w.serverOptions()
	if err := w.openServerStores(&o); err != nil {
		w.t.Fatalf("open the server's stores: %v", err)
	}
	srv, err := server.Open(w.ctx, o)
	if err != nil {
		w.t.Fatalf("open server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		w.t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	w.srv, w.srvURL, w.srvDone = srv, "http://"+ln.Addr().String(), done
	if w.fp != nil {
		if err := w.fp.SetTarget(w.srvURL); err != nil {
			w.t.Fatal(err)
		}
	}
}

// restartServer shuts the server down gracefully and opens it again on the
// same store, on a new port the proxy then points at.
func (w *world) restartServer() {
	w.stopServer()
	w.redrawAnswerBound()
	w.startServer()
}

// idleBound bounds the wait for the server to finish the requests its
// clients left: a push's write waits at most for the group before it and
// then its own group's transaction (server.groupTimeout, 30 s).
const idleBound = time.Minute

// statAwaitedIdle counts the times the harness waited for the server to
// finish requests whose clients had left.
const statAwaitedIdle = "contract: waits for the pushes their clients left"

// awaitServerIdle waits until the server handles no request. A push goes
// on after its client has gone (its request timeout, a fault of its
// link), so that the ledger can answer the retry. What the harness does
// to the server as if it were idle waits for such a push to end:
// connections cut "while idle" (whose failure of the push would be the
// cut's, not the server's), a compaction (the harness's copy of the
// ledger before it would miss the push's answers, and the compaction
// erase them), the final read of the server's truth. A request still
// handled after idleBound is a violation: nothing the server does for a
// client may outlive it for good.
func (w *world) awaitServerIdle() {
	deadline := time.Now().Add(idleBound)
	if w.srv.RequestsInFlight() > 0 {
		w.stats.inc(statAwaitedIdle, 1)
	}
	for n := w.srv.RequestsInFlight(); n > 0; n = w.srv.RequestsInFlight() {
		if time.Now().After(deadline) {
			w.violate("the server still handles %d request(s) %v after its clients left them", n, idleBound)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// stopServer shuts the server down gracefully.
func (w *world) stopServer() {
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		w.violate("server shutdown: %v", err)
	}
	if err := w.srv.Close(); err != nil {
		w.violate("server close: %v", err)
	}
	<-w.srvDone
}

// moveServer stops the SQLite server, moves its store to PostgreSQL
// (scenario.moveTo) as casefile admin move-to does, and starts the server
// there on a new port the proxy points at: to the devices it is a
// restart, and everything they hold must still converge.
func (w *world) moveServer() {
	w.tracef("move the server's store to postgres")
	w.stopServer()
	w.reader.Close()
	res, err := storemove.Move(w.ctx, storemove.Options{DataDir: filepath.Join(w.dir, "server"), URL: w.cfg.moveTo})
	if err != nil {
		w.t.Fatalf("move the server's store: %v", err)
	}
	w.stats.inc("contract: stores moved to postgres mid-scenario", 1)
	for _, d := range res.Dropped {
		w.stats.inc("contract: staged chunks a move left behind, sent again", int(d.Rows))
	}
	w.cfg.pgURL, w.cfg.moveTo = w.cfg.moveTo, ""
	if w.reader, err = w.openReader(); err != nil {
		w.t.Fatalf("open the moved store: %v", err)
	}
	w.startServer()
}

// openClient opens the client's database and a syncer on it.
func (w *world) openClient(c *client) {
	opts := []localdb.Option{localdb.WithWriteFault(func() error {
		if c.full.Load() {
			return errDiskFull
		}
		return nil
	})}
	if c.keys != nil {
		opts = append(opts, localdb.WithSealer(c.keys))
	}
	db, err := localdb.Open(w.ctx, c.path, w.schema, opts...)
	if err != nil {
		w.t.Fatalf("%s: open local database: %v", c.name, err)
	}
	c.db = db
	w.newSyncer(c)
}

// newSyncer gives c a syncer over its open database with its token.
func (w *world) newSyncer(c *client) {
	c.s = syncer.New(c.db, syncer.Options{
		Server:       c.link.URL,
		User:         c.user.name,
		Token:        c.token,
		Device:       c.name,
		BatchSize:    c.batch,
		PageSize:     c.page,
		PollInterval: time.Hour,
		HTTPClient:   c.link.client,
		// A stall costs this long: short enough for hundreds of scenarios,
		// long enough that no unfaulted exchange comes near it.
		RequestTimeout: requestTimeout,
		Rand:           syncer.LockedRand(w.seed + uint64(c.i)),
		WorkOffline:    c.workOffline,
	})
}

func (w *world) close() {
	if w.closed {
		return
	}
	w.closed = true
	for _, c := range w.clients {
		if c.s != nil {
			c.s.Close()
		}
		if c.db != nil {
			c.db.Close()
		}
		for _, d := range c.dead {
			d.Close()
		}
		c.link.close()
	}
	if w.fp != nil {
		w.fp.Close()
	}
	if w.srv != nil {
		w.srv.Close()
		<-w.srvDone
	}
	if w.reader != nil {
		w.reader.Close()
	}
	if w.db != nil {
		w.db.Close()
	}
	os.RemoveAll(w.dir)
}

// intn, float and chance draw from the scenario's stream.
func (w *world) intn(n int) int {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.rnd.IntN(n)
}

func (w *world) float() float64 {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	return w.rnd.Float64()
}

func (w *world) chance(p float64) bool { return w.float() < p }

// mixShare is one fault's share among faulty requests.
type mixShare struct {
	f     fault
	share float64
}

// faultMix is the share of each fault among faulty requests.
var faultMix = []mixShare{
	{fReset, 0.16}, {fResetMid, 0.12}, {fDrop, 0.20}, {fDuplicate, 0.14},
	{fDelay, 0.08}, {fUnavailable, 0.09}, {fServerError, 0.06}, {fRateLimited, 0.06},
	{fSlow, 0.07}, {fStallUp, 0.005}, {fStallDown, 0.005}, {fCrawl, 0.01},
}

// decide draws the fault of one request of a client.
func (w *world) decide(name, path string, stream, offline bool) draw {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	d := draw{f: fPass}
	f := fPass
	rnd := w.rnd
	if strings.HasPrefix(path, "/v1/file") {
		rnd = w.frnd // file bytes draw their faults from their own stream
	}
	switch {
	case offline:
		f = fOffline
	case w.healed:
	case stream:
		if rnd.Float64() < 0.5 {
			f = fStreamCut
		}
	case rnd.Float64() < w.cfg.faultRate:
		x := rnd.Float64()
		mix := w.cfg.mix
		if mix == nil {
			mix = faultMix
		}
		for _, m := range mix {
			if f = m.f; x < m.share {
				break
			}
			x -= m.share
		}
		switch f {
		case fDelay:
			d.delay = time.Duration(1+rnd.IntN(5)) * time.Millisecond
		case fSlow:
			d.rate = minSlowRate + rnd.IntN(maxSlowRate-minSlowRate)
		}
	}
	if f != fPass {
		w.stats.inc("fault: "+string(f), 1)
	}
	switch {
	case rnd == w.frnd:
		// How many file requests a pass makes follows the transfers' retry
		// timers, which run on real time: they show in the failure report
		// but stay out of the replay fingerprint.
		w.tailLocked(fmt.Sprintf("%s %s %s", name, path, f))
	case offline:
		// A request of a device offline draws nothing and fails at once;
		// the device's transport sends it again when it went out on a
		// connection the transport had kept, which follows when the
		// transport took back the connections of the requests before
		// (two at a time with pages asked ahead): how many come shows in
		// the failure report, not in the fingerprint.
		w.tailLocked(fmt.Sprintf("%s %s %s", name, path, f))
	default:
		w.traceLocked("%s %s %s", name, path, f)
	}
	d.f = f
	return d
}

// tracef notes a step for the replay fingerprint and the failure report.
func (w *world) tracef(format string, args ...any) {
	w.rmu.Lock()
	defer w.rmu.Unlock()
	w.traceLocked(format, args...)
}

func (w *world) traceLocked(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(w.trace, line)
	w.tailLocked(line)
}

// tailLocked keeps a line for the failure report (and prints it when
// tracing) without adding it to the replay fingerprint.
func (w *world) tailLocked(line string) {
	w.tail = append(w.tail, strconv.Itoa(w.step)+": "+line)
	if w.verbose {
		fmt.Fprintln(os.Stderr, "sim:", w.step, line)
	}
	if len(w.tail) > 60 {
		w.tail = w.tail[len(w.tail)-40:]
	}
}

// violate records a broken invariant; the scenario fails at its end with
// every violation, its seed and the command that replays it.
func (w *world) violate(format string, args ...any) {
	msg := fmt.Sprintf("step %d: ", w.step) + fmt.Sprintf(format, args...)
	w.bad = append(w.bad, msg)
}

// report fails the test if any invariant broke.
func (w *world) report(name string) {
	if len(w.bad) == 0 {
		return
	}
	bad := w.bad
	if len(bad) > 25 {
		bad = append(bad[:25:25], fmt.Sprintf("… and %d more", len(w.bad)-25))
	}
	w.t.Errorf("scenario seed=%d broke %d invariant(s):\n  %s\nlast steps:\n  %s\nreplay: %s",
		w.seed, len(w.bad), strings.Join(bad, "\n  "), strings.Join(w.tail, "\n  "), replayCommand(name, w.seed))
}

// replayCommand is the one line that runs exactly one scenario again.
func replayCommand(test string, seed uint64) string {
	env := ""
	if strings.Contains(test, "Postgres") {
		env = "CASEFILE_TEST_POSTGRES=" + os.Getenv("CASEFILE_TEST_POSTGRES") + " "
	}
	return fmt.Sprintf("%sCASEFILE_SIM_SEED=%d go test -count=1 -run '%s/seed=%d$' ./sim", env, seed, test, seed)
}

// meet registers a record id the harness has just learnt of.
func (w *world) meet(id, collection string) {
	if _, ok := w.index[id]; ok {
		return
	}
	w.index[id] = len(w.ids)
	w.ids = append(w.ids, id)
	w.kinds[id] = collection
}

// must fails the scenario at once on an error of the harness's own making.
func (w *world) must(what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		w.t.Fatalf("seed=%d step %d: %s: %v", w.seed, w.step, what, err)
	}
}
