package syncer

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"casefile/apiclient"
	"casefile/protocol"
)

// loop runs cycles when woken, when a retry falls due and every PollInterval.
func (s *Syncer) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
			s.keep(wants{push: true, pull: true})
		}
		w := s.takeWants()
		if w.push || w.pull {
			s.step(ctx, w)
		}
		timer.Reset(s.nextWake())
	}
}

// step runs one wanted cycle unless the link forbids it or a backoff
// holds it back (then the wish is kept for later).
func (s *Syncer) step(ctx context.Context, w wants) {
	if !s.link.allowed() {
		return
	}
	now := s.opts.Now()
	s.mu.Lock()
	s.clockLocked(now)
	hold := s.holdUntil
	s.mu.Unlock()
	if !w.forced && now.Before(hold) {
		s.keep(w)
		return
	}
	if !w.forced && !s.link.reachable() && s.failing() {
		// Offline: a light probe first, not a full cycle.
		if err := s.probe(ctx); err != nil {
			s.keep(w)
			return
		}
		w = wants{push: true, pull: true}
	}
	_, err := s.cycle(ctx, w)
	s.afterCycle(err)
	if err != nil && apiclient.ClassOf(err) != apiclient.ClassUnauthorized && !errors.Is(err, context.Canceled) {
		// Try again when the backoff hold ends (the probe first if the
		// link is down), not only at the next poll or poke.
		s.keep(wants{push: w.push, pull: w.pull})
	}
}

// keep puts back a wish that could not run yet.
func (s *Syncer) keep(w wants) {
	s.mu.Lock()
	s.want.push = s.want.push || w.push
	s.want.pull = s.want.pull || w.pull
	s.mu.Unlock()
}

func (s *Syncer) failing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures > 0
}

// probe checks /healthz while offline, backing off on failure.
func (s *Syncer) probe(ctx context.Context) error {
	nctx, cancel, c, ok := s.netContext(ctx)
	if !ok {
		return ErrWorkOffline
	}
	defer cancel()
	head, err := c.Health(nctx)
	if ctx.Err() != nil || nctx.Err() != nil {
		return errors.Join(err, ctx.Err())
	}
	if err == nil {
		s.noteHead(head)
	}
	s.setConn(s.link.observe(err))
	if err != nil {
		s.backoff(s.opts.ProbeBackoff, err)
	}
	return err
}

// afterCycle sets the backoff hold after a failed cycle, or clears it.
// refused tells the UI the server refused the token: a revoked device
// once (EventRevoked), any other refusal as an error.
func (s *Syncer) refused(err error) {
	if !IsDeviceRevoked(err) {
		s.emit(Event{Kind: EventError, Err: apiclient.Refused(err).Error()})
		return
	}
	s.mu.Lock()
	told := s.revoked
	s.revoked = true
	s.mu.Unlock()
	if !told {
		s.emit(Event{Kind: EventRevoked, Err: RevokedSentence})
	}
}

// RevokedSentence is what EventRevoked says.
const RevokedSentence = "An administrator revoked this device: its copy of the server's data must be deleted."

// IsDeviceRevoked reports whether err is the server refusing this device
// for good: an admin revoked it.
func IsDeviceRevoked(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && e.Code == protocol.CodeDeviceRevoked
}

func (s *Syncer) afterCycle(err error) {
	switch {
	case err == nil:
		s.mu.Lock()
		s.failures, s.holdUntil = 0, time.Time{}
		s.mu.Unlock()
	case apiclient.ClassOf(err) == apiclient.ClassUnauthorized:
		s.refused(err)
	case apiclient.IsTransient(err):
		s.backoff(s.opts.OpBackoff, err)
	case errors.Is(err, context.Canceled), errors.Is(err, ErrWorkOffline), errors.Is(err, ErrNotLoggedIn):
		// Nothing failed: nothing was tried.
	default:
		// A local database failure: try again later, not in a tight loop.
		s.backoff(s.opts.OpBackoff, err)
	}
}

// nextWake is how long the loop sleeps: until the next op retry, the end
// of a backoff hold or the next poll, whichever comes first.
func (s *Syncer) nextWake() time.Duration {
	now := s.opts.Now()
	next := now.Add(s.opts.PollInterval)
	s.mu.Lock()
	s.clockLocked(now)
	for len(s.retries) > 0 && !s.retries[0].After(now) {
		delete(s.retrySet, heap.Pop(&s.retries).(time.Time))
		s.want.push = true
		next = now
	}
	if len(s.retries) > 0 && s.retries[0].Before(next) {
		next = s.retries[0]
	}
	if !s.holdUntil.IsZero() && s.holdUntil.After(now) && s.holdUntil.Before(next) && (s.want.push || s.want.pull) {
		next = s.holdUntil
	}
	s.mu.Unlock()
	d := next.Sub(now)
	if d < 0 {
		return 0
	}
	return d
}
