package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// maxBatch is the most ops one push may carry.
const maxBatch = protocol.MaxOpsPerPush

// RunOnce runs one full cycle now, whether or not the syncer was started:
// push everything pushable (retrying ops included: a person asked), then
// pull until caught up. The error says why the cycle fell short: not
// logged in, work offline, the server unreachable or refusing the token.
func (s *Syncer) RunOnce(ctx context.Context) (Summary, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Summary{}, errClosed
	}
	sum, err := s.cycle(ctx, wants{push: true, pull: true, forced: true})
	s.afterCycle(err)
	if err == nil || apiclient.IsTransient(err) {
		if n, cerr := s.retryableOps(ctx); cerr == nil {
			sum.Retrying = n
		} else if err == nil {
			err = cerr
		}
	}
	return sum, err
}

// retryableOps counts queued ops that a later sync can still deliver: not
// failed, not in conflict, and not queued behind such an op of their
// record (those wait for a person, not for the network).
func (s *Syncer) retryableOps(ctx context.Context) (int, error) {
	ops, err := s.db.Outbox(ctx)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	held := map[string]bool{}
	n := 0
	for _, o := range ops { // queue order
		switch {
		case o.State == localdb.OpFailed || o.State == localdb.OpConflict:
			held[o.RecordID] = true
		case !held[o.RecordID]:
			n++
		}
	}
	return n, nil
}

// run is the state of one cycle.
type run struct {
	s     *Syncer
	c     Remote
	ctx   context.Context // for the local database: outlives network cancellation
	nctx  context.Context // for the network
	w     wants
	sum   Summary
	begun bool
	// pullTotal is how many records the first page of the pull under way
	// said remain (rampPage); the fetches read it.
	pullTotal atomic.Int64
}

// begin marks the cycle as talking to the server (lazily: a cycle with
// nothing to push and no pull wanted never touches the network).
func (r *run) begin() {
	if !r.begun {
		r.begun = true
		r.s.setConn(r.s.link.begin())
	}
}

func (s *Syncer) cycle(ctx context.Context, w wants) (Summary, error) {
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	// Local work: ops a full disk stranded show as what they are (retrying)
	// once there is room, network or not.
	if err := s.db.ReturnStranded(context.WithoutCancel(ctx)); err != nil {
		s.log.Error("return stranded ops to the queue", "err", err)
	}
	nctx, cancel, c, ok := s.netContext(ctx)
	if !ok {
		return Summary{}, s.whyNoTraffic()
	}
	defer cancel()
	r := &run{s: s, c: c, ctx: ctx, nctx: nctx, w: w}
	var err error
	if w.push {
		err = r.push()
	}
	if w.pull && pullDespite(err) {
		err = errors.Join(err, r.pull())
		err = firstError(err)
	}
	if !r.begun {
		return r.sum, err
	}
	s.setConn(s.link.end(err))
	if err == nil {
		if merr := s.db.SetMeta(context.WithoutCancel(ctx), MetaLastSync, s.opts.Now().UTC().Format(time.RFC3339Nano)); merr != nil {
			err = fmt.Errorf("record last sync: %w", merr)
		}
	} else if apiclient.ClassOf(err) != 0 {
		s.log.Info("sync cycle fell short", "class", apiclient.ClassOf(err), "err", err)
	}
	if st, serr := s.db.Status(ctx); serr == nil {
		r.sum.Retrying = st.Counts[model.StatePending] + st.Counts[model.StateSyncing] + st.Counts[model.StateRetrying]
	}
	s.emit(Event{Kind: EventCycle, Counts: r.sum, Err: sentence(err)})
	return r.sum, err
}

// whyNoTraffic explains why a cycle cannot talk to the server.
func (s *Syncer) whyNoTraffic() error {
	switch s.link.state() {
	case WorkOffline:
		return ErrWorkOffline
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return ErrNotLoggedIn
	}
	return &apiclient.Error{Class: apiclient.ClassUnauthorized, Status: http.StatusUnauthorized, Code: protocol.CodeUnauthorized, Message: apiclient.SessionExpired}
}

// pullDespite says whether the pull still runs after the push ended with
// err: pulls are never blocked by uploads the server refuses or fails on,
// only by a link that is down, a refused token, a rate limit or stopping.
func pullDespite(err error) bool {
	if err == nil {
		return true
	}
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return false // the local database or cancellation
	}
	switch e.Class {
	case apiclient.ClassPermanent:
		return true
	case apiclient.ClassFailing:
		return e.Status != http.StatusTooManyRequests && e.Status != 0
	}
	return false
}

// firstError keeps the first of joined errors: the one that stopped the cycle.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

// sentence is the part of an error people read.
func sentence(err error) string {
	var e *apiclient.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "The sync was interrupted before the server answered."
	}
	return err.Error()
}
