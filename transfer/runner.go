package transfer

import (
	"context"
	"sync"
	"time"
)

// DefaultRunEvery is how often a Runner looks at the queue unasked: retries
// fall due and other processes queue files too.
const DefaultRunEvery = 30 * time.Second

// Runner runs an Engine in the background: at once when kicked (a file
// attached, a download asked for) and every interval otherwise.
type Runner struct {
	e      *Engine
	every  time.Duration
	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewRunner returns a runner of e; every <= 0 means DefaultRunEvery.
func NewRunner(e *Engine, every time.Duration) *Runner {
	if every <= 0 {
		every = DefaultRunEvery
	}
	return &Runner{e: e, every: every, kick: make(chan struct{}, 1)}
}

// Start runs passes until ctx ends or Close.
func (r *Runner) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.every)
		defer t.Stop()
		for {
			if _, err := r.e.RunOnce(ctx); err != nil && ctx.Err() == nil {
				r.e.log.Debug("transfer pass stopped", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
			case <-t.C:
			}
		}
	}()
}

// Kick asks for a pass now; a pass already asked for is not doubled.
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Close stops the runner and waits for its pass in flight.
func (r *Runner) Close() {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
	}
}
