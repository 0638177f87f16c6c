package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"casefile/localdb"
	"casefile/protocol"
	"casefile/vault"
)

// besideOdds is the chance that, while a device's push is on its way to
// the server, another process opens the device's database and closes it
// again, as a script's `casefile status` or `casefile note add` does
// beside the UI. The ops of that push are this process's, in flight: the
// open must leave them syncing, and must not journal that casefile
// stopped. (An open once put every op in syncing back in the queue as a
// crash's, and a second syncer could send them again beside the first.)
const besideOdds = 0.05

// statBeside counts those opens; the CI set must draw some.
const statBeside = "contract: databases opened by another process while a push was in flight"

// beside is what the links' handlers share with the scenario for it.
type beside struct {
	mu  sync.Mutex
	rnd *rand.Rand // its own stream: drawing it moves no other draw
	// prnd draws the disks that fill as a pull page arrives, apart from
	// rnd, so that drawing them moved no earlier draw.
	prnd *rand.Rand
	bad  []string // violations found in a handler, for the scenario's goroutine to report
}

func newBeside(seed uint64) *beside {
	return &beside{rnd: rand.New(rand.NewPCG(seed^0x6265, seed^0x73696465)), prnd: rand.New(rand.NewPCG(seed^0x70756c6c, seed^0x66756c6c))}
}

// besideDevice is what a link's handler needs of its device's database:
// handed over by the scenario's goroutine (link.setDevice), never read
// from the client it goes on changing.
type besideDevice struct {
	name, path string
	db         *localdb.DB
	keys       *vault.Keys
	// fill says the device's disk fills as this sync's first push reaches
	// the server (full): the answer cannot be written, nor the ops put
	// back in the queue.
	fill bool
	// fillPull says the disk fills as this sync's first pull request
	// reaches the server, unless a push filled it before: the page's
	// records, its cursor and what it drops cannot be written.
	fillPull bool
	full     *atomic.Bool
}

// fillOdds is the chance that a sync's disk fills as its push reaches
// the server; the room is made again after the sync. Its ops stay
// syncing, the process's own, and its next sync must put them back and
// send them again.
const fillOdds = 0.04

// statFilled counts those syncs; the CI set must draw some.
const statFilled = "fault: disk filled while a push was on the server"

// errDiskFull is the simulated disk's answer to a write when it is full.
var errDiskFull = errors.New("no space left on device (simulated)")

// fillPullOdds is the chance that a sync's disk fills as its first pull
// request reaches the server; the room is made again after the sync.
// Nothing of the page may stand, the cursor stays where it was, and the
// next sync pulls the page again. Most syncs ask for no page (a device
// whose push answer said it is at the head pulls nothing), so the odds
// are higher than the push's.
const fillPullOdds = 0.08

// statFilledPull counts those syncs; the CI set must draw some (the race
// detector's four scenarios may not).
const statFilledPull = "fault: disk filled while a pull page was on its way"

// fillPullDraw draws whether the coming sync's disk fills as it pulls.
func (w *world) fillPullDraw() bool {
	b := w.beside
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prnd.Float64() < fillPullOdds
}

// pullArrived is a device's link's hook for a pull on its way to the
// server.
func (w *world) pullArrived(dev *besideDevice) {
	if dev.fillPull && dev.full.CompareAndSwap(false, true) {
		w.stats.inc(statFilledPull, 1)
	}
}

// fillDraw draws whether the coming sync's disk fills.
func (w *world) fillDraw() bool {
	b := w.beside
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rnd.Float64() < fillOdds
}

// pushArrived is a device's link's hook for a push on its way to the
// server.
func (w *world) pushArrived(dev *besideDevice, r *http.Request, body []byte) {
	if dev.fill && dev.full.CompareAndSwap(false, true) {
		w.stats.inc(statFilled, 1)
		return
	}
	w.openBeside(dev, r, body)
}

// openBeside, called by a device's link as a push reaches it, sometimes
// opens the device's database in a second handle, closes it, and checks
// that every op of the push is still syncing in the first handle's and
// that nothing was journaled as a stop.
func (w *world) openBeside(c *besideDevice, r *http.Request, body []byte) {
	b := w.beside
	b.mu.Lock()
	draw := b.rnd.Float64() < besideOdds
	b.mu.Unlock()
	if !draw {
		return
	}
	ids, err := pushedOpIDs(r, body)
	if err != nil {
		b.fail("%s: read the push in flight: %v", c.name, err)
		return
	}
	db, path, keys := c.db, c.path, c.keys
	newest, err := db.Journal(w.ctx, localdb.JournalQuery{Limit: 1})
	if err != nil {
		b.fail("%s: journal before the second open: %v", c.name, err)
		return
	}
	var since int64
	if len(newest) > 0 {
		since = newest[0].Seq
	}
	var opts []localdb.Option
	if keys != nil {
		opts = append(opts, localdb.WithSealer(keys))
	}
	other, err := localdb.Open(w.ctx, path, w.schema, opts...)
	if err != nil {
		b.fail("%s: a second process's open: %v", c.name, err)
		return
	}
	if err := other.Close(); err != nil {
		b.fail("%s: a second process's close: %v", c.name, err)
		return
	}
	ops, err := db.Outbox(w.ctx)
	if err != nil {
		b.fail("%s: outbox after the second open: %v", c.name, err)
		return
	}
	state := map[string]localdb.OpState{}
	for _, o := range ops {
		state[o.OpID] = o.State
	}
	for _, id := range ids {
		if s := state[id]; s != localdb.OpSyncing {
			b.fail("%s: op %s, in flight, is %q after another process opened the database, want syncing", c.name, id, s)
		}
	}
	after, err := db.Journal(w.ctx, localdb.JournalQuery{AfterSeq: since})
	if err != nil {
		b.fail("%s: journal after the second open: %v", c.name, err)
		return
	}
	for _, e := range after {
		if e.Kind == localdb.JournalRetry && strings.Contains(e.Summary, "stopped") {
			b.fail("%s: another process's open journaled %q while a push was in flight", c.name, e.Summary)
		}
	}
	w.stats.inc(statBeside, 1)
}

func (b *beside) fail(format string, args ...any) {
	b.mu.Lock()
	b.bad = append(b.bad, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

// report hands the violations the handlers found to the scenario.
func (w *world) reportBeside() {
	b := w.beside
	b.mu.Lock()
	bad := b.bad
	b.bad = nil
	b.mu.Unlock()
	for _, m := range bad {
		w.violate("%s", m)
	}
}

// pushedOpIDs reads the op ids of a push request's body, as the device
// encoded it.
func pushedOpIDs(r *http.Request, body []byte) ([]string, error) {
	var rd io.Reader = bytes.NewReader(body)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		z, err := gzip.NewReader(rd)
		if err != nil {
			return nil, err
		}
		rd = z
	}
	var req protocol.PushRequest
	if err := json.NewDecoder(rd).Decode(&req); err != nil {
		return nil, err
	}
	ids := make([]string, len(req.Ops))
	for i, o := range req.Ops {
		ids[i] = o.OpID
	}
	return ids, nil
}

// checkNothingInFlight holds a device to what a sync leaves when it ends:
// nothing in flight, so no op in syncing. A disk that filled during it
// may strand some, the process's own; the next sync that ends with room
// must have put them back and sent them.
func (w *world) checkNothingInFlight(c *client) {
	ops, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox after a sync", err)
	for _, o := range ops {
		if o.State == localdb.OpSyncing {
			w.violate("%s: op %s is still syncing after a sync ended with room on the disk", c.name, o.OpID)
		}
	}
}
