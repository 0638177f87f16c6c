package sim

import (
	"math/rand/v2"
	"net/url"

	"casefile/internal/faultproxy"
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

// disarmDB ends a cycle's commit fault and counts the answers lost.
func (w *world) disarmDB() {
	lost := w.db.Disarm()
	w.stats.inc(statCommitsLost, lost-w.dbLost)
	w.dbLost = lost
}
