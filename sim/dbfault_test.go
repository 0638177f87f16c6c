package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"

	"casefile/internal/faultproxy"
	"casefile/protocol"
	"casefile/server/store"
)

// dbFaultOdds is the chance that a sync cycle of a PostgreSQL scenario
// loses the answer to the first COMMIT the server sends meanwhile: the
// transaction (a push group, most often) committed, the server's
// connection is cut before it hears so, and the push is answered 500.
// The device sends it again and the ledger must answer each op once.
const dbFaultOdds = 0.08

// statCommitsLost counts the commit answers lost between the server and
// PostgreSQL; the PostgreSQL sets must draw some.
const statCommitsLost = "fault: db commit answer lost"

// dbCutOdds is the chance that a sync cycle of a PostgreSQL scenario
// begins with every connection between the server and PostgreSQL cut, as
// a restart of the database or a network that resets them does, while
// the server is idle: its pools hold them as live. Nothing was in flight,
// so every request of the cycle must be served: a transaction that meets
// a dead connection as it begins, and a read, go again on another
// (internal/pghealth), in the record store and the file store alike.
const dbCutOdds = 0.06

// statConnsCut counts the cycles that began so; the PostgreSQL sets must
// draw some.
const statConnsCut = "fault: db connections cut while idle"

// newDBFaultRand is the stream those faults are drawn from, apart from
// the scenario's, so that drawing them moves no other draw.
func newDBFaultRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x6462, seed^0x636f6d6d6974))
}

// newDBLink starts the link the server reaches PostgreSQL through.
func newDBLink(pgURL string) (*faultproxy.Link, error) {
	u, err := url.Parse(pgURL)
	if err != nil {
		return nil, err
	}
	return faultproxy.NewLink(u.Host)
}

// viaLink is pgURL with its host the link's.
func viaLink(pgURL string, l *faultproxy.Link) string {
	u, err := url.Parse(pgURL)
	if err != nil {
		return pgURL
	}
	u.Host = l.Addr
	return u.String()
}

// loseCommitDraw draws whether the next cycle loses a commit's answer and
// arms the link if so.
func (w *world) loseCommitDraw() bool {
	if w.db == nil || w.cfg.pgURL == "" || w.drnd.Float64() >= dbFaultOdds {
		return false
	}
	w.tracef("the server's next commit answer from postgres is lost")
	w.db.LoseNextCommit()
	return true
}

// cutConnsDraw draws whether the next cycle begins with the server's
// connections to PostgreSQL cut, and cuts them if so.
func (w *world) cutConnsDraw() bool {
	if w.db == nil || w.cfg.pgURL == "" || w.drnd.Float64() >= dbCutOdds {
		return false
	}
	w.awaitServerIdle()
	n := w.db.Cut()
	w.tracef("the server's %d connections to postgres are cut", n)
	w.stats.inc(statConnsCut, 1)
	return true
}

// adminCutOdds is the chance that an administrator's write in a
// PostgreSQL scenario (a grant, a revocation of a matter or of a device)
// comes right after every connection between the server and PostgreSQL
// was cut while idle: its BEGIN meets a dead connection and begins again
// on another, and its first statement, a statement rather than a query
// sent with BEGIN, must go on that other one. (It went on the dead one:
// "sql: connection is already closed".)
const adminCutOdds = 0.25

// statAdminCut counts those writes; the PostgreSQL sets must draw some.
const statAdminCut = "fault: db connections cut before an administrator's write"

// adminCutDraw draws, from a stream of its own, whether the coming
// administrator's write meets its connections cut.
func (w *world) adminCutDraw() {
	if w.db == nil || w.cfg.pgURL == "" {
		return
	}
	if w.crnd == nil {
		w.crnd = rand.New(rand.NewPCG(w.seed^0x61646d, w.seed^0x637574))
	}
	if w.crnd.Float64() >= adminCutOdds {
		return
	}
	w.awaitServerIdle()
	n := w.db.Cut()
	w.tracef("the server's %d connections to postgres are cut before an administrator's write", n)
	w.stats.inc(statAdminCut, 1)
}

// serverFailures returns the requests the server failed since it was
// last asked, but for those the harness's own faults explain
// (arrivalFaults, noteFaults).
func (w *world) serverFailures() []string {
	var out []string
	for _, f := range w.srvLog.taken() {
		if !strings.Contains(f, "simulated: ") {
			out = append(out, f)
		}
	}
	return out
}

// failureLog is the server's log, which keeps the requests it failed
// (answered 5xx: "request failed") and drops everything else.
type failureLog struct {
	mu     sync.Mutex
	failed []string
}

// taken returns the requests failed since the last call and forgets them.
func (l *failureLog) taken() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.failed
	l.failed = nil
	return out
}

func (l *failureLog) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelError
}

func (l *failureLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request failed" {
		return nil
	}
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed = append(l.failed, line)
	return nil
}

func (l *failureLog) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *failureLog) WithGroup(string) slog.Handler { return l }

// disarmDB ends a cycle's commit fault and counts the answers lost.
func (w *world) disarmDB() {
	lost := w.db.Disarm()
	w.stats.inc(statCommitsLost, lost-w.dbLost)
	w.dbLost = lost
}

// midCutOdds is the chance that a sync cycle of a PostgreSQL scenario
// cuts every connection between the server and PostgreSQL in the middle
// of the next push group's transaction: after its first statement (the
// preload, which goes with BEGIN and takes the head's lock), before its
// COMMIT. Nothing of the group happened, so it goes again on another
// connection and every request of the cycle must be served.
const midCutOdds = 0.06

// statMidCut counts the groups cut so; the PostgreSQL sets must draw
// some.
const statMidCut = "fault: db connections cut in the middle of a push group"

// midCutDraw draws, from a stream of its own, whether the coming cycle's
// first push group has its connections cut, and arms the store if so.
func (w *world) midCutDraw() bool {
	if w.groupCut == nil {
		return false
	}
	if w.mrnd == nil {
		w.mrnd = rand.New(rand.NewPCG(w.seed^0x6d6964, w.seed^0x67726f7570))
	}
	if w.mrnd.Float64() >= midCutOdds {
		return false
	}
	w.groupCut.Cuts.Store(1)
	return true
}

// midCutDisarm disarms the store after the cycle and says whether a
// group was cut.
func (w *world) midCutDisarm() bool {
	w.groupCut.Cuts.Store(0)
	if w.groupCut.Fired.Swap(0) == 0 {
		return false
	}
	w.tracef("the server's connections to postgres were cut in the middle of a push group")
	w.stats.inc(statMidCut, 1)
	return true
}

// readCutOdds is the chance that a sync cycle of a PostgreSQL scenario
// cuts every connection between the server and PostgreSQL in the middle
// of the next read that asks for the head first (a pull page does): its
// snapshot has begun and read part of what it answers.
const readCutOdds = 0.06

// statReadCut counts the reads cut so; the PostgreSQL sets must draw
// some.
const statReadCut = "fault: db connections cut in the middle of a read"

// readCutDraw draws, from a stream of its own, whether the coming
// cycle's first read of the head has its connections cut, and arms the
// store if so.
func (w *world) readCutDraw() bool {
	if w.readCut == nil {
		return false
	}
	if w.rrnd == nil {
		w.rrnd = rand.New(rand.NewPCG(w.seed^0x72656164, w.seed^0x637574))
	}
	if w.rrnd.Float64() >= readCutOdds {
		return false
	}
	w.readCut.Cuts.Store(1)
	return true
}

// readCutDisarm disarms the store after the cycle and says whether a
// read was cut.
func (w *world) readCutDisarm() bool {
	w.readCut.Cuts.Store(0)
	if w.readCut.Fired.Swap(0) == 0 {
		return false
	}
	w.tracef("the server's connections to postgres were cut in the middle of a read")
	w.stats.inc(statReadCut, 1)
	return true
}

// notUnavailable returns the failed requests not answered 503
// unavailable (protocol.CodeUnavailable).
func notUnavailable(failed []string) []string {
	var out []string
	for _, f := range failed {
		if !strings.Contains(f, " code="+string(protocol.CodeUnavailable)+" ") {
			out = append(out, f)
		}
	}
	return out
}

// notAtCommit returns the failed requests whose failure was not a COMMIT
// sent on a dead connection (sqlstore's "commit: …", not marked
// store.ErrNotCommitted).
func notAtCommit(failed []string) []string {
	var out []string
	for _, f := range failed {
		if !strings.Contains(f, ": commit: ") || strings.Contains(f, store.ErrNotCommitted.Error()) {
			out = append(out, f)
		}
	}
	return out
}
