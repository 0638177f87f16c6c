package server

import (
	"context"
	"sync"
	"time"

	"casefile/model"
)

// maxGroupOps bounds the ops one group transaction applies, so that the
// sequence lock, which every other write waits for, is never held for
// much longer than one full push takes.
const maxGroupOps = 2 * 500

// groupTimeout bounds a group's transaction. A full group takes a second
// or so; one still running after this long is on a connection that died
// without a word, and would otherwise hold every push of this server
// until TCP gave up. Its pushes are answered 500 and sent again, and the
// ledger answers any op whose commit did reach the database.
const groupTimeout = 30 * time.Second

// pushGroup is group commit for pushes. A push that finds no transaction
// under way leads: it takes every batch waiting (its own first) and
// applies them in one write transaction, committed once. Pushes that
// arrive meanwhile wait; when the leader is done it hands the lead to the
// first of them, which takes all that gathered. Under load a commit thus
// serves many pushes, and a lone push waits for nobody.
type pushGroup struct {
	mu      sync.Mutex
	pending []*pushJob
	leading bool
}

// pushJob is one push's batch in a group, and what became of it.
type pushJob struct {
	p           *principal
	ops         []model.Op
	outcomes    []outcome
	prior, head int64
	err         error
	// refused is why the group's transaction refused the push's token
	// (confirmHolders); nothing of the push was applied.
	refused *apiError
	// tooLarge says the batch's results passed Options.PushAnswerBytes: it was
	// refused with errAnswerTooLarge, and nothing of it was applied.
	tooLarge bool
	done     chan struct{} // closed once the job's transaction ended
	lead     chan struct{} // closed when the job is to lead the next group
}

// run applies j, in a group led by this push or another.
func (g *pushGroup) run(ctx context.Context, j *pushJob, commit func(context.Context, []*pushJob)) {
	g.mu.Lock()
	g.pending = append(g.pending, j)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		select {
		case <-j.done:
			return
		case <-j.lead:
		}
	}
	g.mu.Lock()
	group := g.take()
	g.mu.Unlock()
	commit(ctx, group)
	g.mu.Lock()
	if len(g.pending) > 0 {
		close(g.pending[0].lead)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, o := range group {
		close(o.done)
	}
}

// take removes the next group from the front of the queue: at least one
// job, more while they fit in maxGroupOps.
func (g *pushGroup) take() []*pushJob {
	n, ops := 0, 0
	for n < len(g.pending) && (n == 0 || ops+len(g.pending[n].ops) <= maxGroupOps) {
		ops += len(g.pending[n].ops)
		n++
	}
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	return group
}
