package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"casefile/apiclient"
	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
)

// maxBatch is the most ops one push may carry.
const maxBatch = protocol.MaxOpsPerPush

// huntAfter is how many times a batch must have failed with a server error
// before it is split to find the one op that makes the server fail, so
// that one poisoned op cannot hold back the records queued with it.
const huntAfter = 2

// forcedHorizon makes every retrying op due in a cycle a person asked for.
const forcedHorizon = 100 * 365 * 24 * time.Hour

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

// push drains the due outbox in batches.
func (r *run) push() error {
	horizon := r.s.opts.Now()
	if r.w.forced {
		horizon = horizon.Add(forcedHorizon)
	}
	if err := r.learnHead(); err != nil {
		return err
	}
	for {
		if err := r.nctx.Err(); err != nil {
			return err
		}
		batch, err := r.s.db.NextBatch(r.ctx, horizon, r.s.batchSize.size())
		if err != nil {
			return fmt.Errorf("next batch: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		// A transient failure ends the push: the server or the link is
		// unwell, and the ops wait for their retry time.
		if err := r.send(batch); err != nil {
			return err
		}
	}
}

// send pushes ops; it returns nil once every op has an answer applied
// locally, or the error that sent the unanswered ones back to the queue.
func (r *run) send(ops []localdb.OutboxOp) error {
	err := r.attempt(ops)
	if err == nil {
		return nil
	}
	return r.handle(ops, err)
}

// handle decides what to do with ops after their push failed with err.
func (r *run) handle(ops []localdb.OutboxOp, err error) error {
	switch {
	case len(ops) > 1 && opSpecific(err):
		return r.halves(ops)
	case len(ops) > 1 && serverError(err) && minAttempts(ops) >= huntAfter:
		return r.hunt(ops)
	}
	r.retry(ops, err)
	return err
}

// halves sends each half on its own, to isolate an op the server refuses
// as a whole request (malformed, too large).
func (r *run) halves(ops []localdb.OutboxOp) error {
	a, b := ops[:len(ops)/2], ops[len(ops)/2:]
	if err := r.send(a); err != nil {
		r.retry(b, err)
		return err
	}
	return r.send(b)
}

// hunt looks for the one op that makes the server fail every batch it is
// in: the half that goes through is applied, the other is searched. If
// both halves fail, the server is failing, not one op.
func (r *run) hunt(ops []localdb.OutboxOp) error {
	a, b := ops[:len(ops)/2], ops[len(ops)/2:]
	errA := r.attempt(a)
	if errA == nil {
		return r.send(b)
	}
	if !serverError(errA) {
		if err := r.handle(a, errA); err != nil {
			r.retry(b, err)
			return err
		}
		return r.send(b)
	}
	errB := r.attempt(b)
	if errB == nil {
		return r.send(a)
	}
	r.retry(a, errA)
	if serverError(errB) {
		r.retry(b, errB)
		return errB
	}
	return r.handle(b, errB)
}

// attempt sends ops in one request and applies the answers. A request the
// server refuses for good that carries one op becomes that op's rejection.
func (r *run) attempt(ops []localdb.OutboxOp) error {
	wire := make([]model.Op, len(ops))
	for i, o := range ops {
		wire[i] = o.Op
	}
	if len(ops) > 1 {
		if body, err := json.Marshal(protocol.PushRequest{Ops: wire}); err == nil && len(body) > protocol.MaxBodyBytes {
			return &apiclient.Error{Class: apiclient.ClassPermanent, Status: http.StatusRequestEntityTooLarge, Code: protocol.CodeTooLarge,
				Message: "The batch is too large for one request."}
		}
	}
	// The cursor goes with the push: when the batch is all that changed
	// after it, the answer says so and the pull need not fetch this
	// device's own writes back.
	cursor, named, err := r.s.db.PushCursor(r.ctx)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if !named {
		cursor = -1
	}
	r.begin()
	resp, err := r.c.PushFrom(r.nctx, wire, cursor)
	r.adapt(r.s.batchSize, "push batch", len(ops), err)
	if err != nil {
		if len(ops) == 1 && opSpecific(err) {
			_, err := r.apply(ops, []protocol.OpResult{rejection(ops[0], err)}, 0, 0, 0)
			return err
		}
		return err
	}
	// The answers and the cursor they may move share one commit.
	from, to := int64(0), int64(0)
	if named && resp.Cursor > cursor {
		from, to = cursor, resp.Cursor
	}
	moved, err := r.apply(ops, resp.Results, resp.Head, from, to)
	if err != nil {
		return err
	}
	if moved {
		r.s.notePulled(resp.Cursor, resp.Head)
	}
	return nil
}

// adapt sizes the next exchange of its kind after one of n things ended
// with err: smaller after a timeout, larger again after successes.
func (r *run) adapt(a *adaptiveSize, what string, n int, err error) {
	switch {
	case err == nil:
		a.succeeded()
	case apiclient.TimedOut(err):
		a.timedOut(n)
		r.s.log.Info("exchange timed out: asking for less", "what", what, "size", n, "next", a.size())
	}
}

// rejection turns a refused one-op request into that op's rejected result.
func rejection(o localdb.OutboxOp, err error) protocol.OpResult {
	res := protocol.OpResult{OpID: o.OpID, Result: model.ResultRejected, Code: protocol.CodeBadRequest, Message: sentence(err)}
	var e *apiclient.Error
	if errors.As(err, &e) {
		res.Code = e.Code
	}
	return res
}

// opSpecific reports whether a whole push refused with err may be the
// fault of an op in it: a malformed or oversized request, a forbidden
// write. A 404 or 405 means the address is wrong, not the ops.
func opSpecific(err error) bool {
	var e *apiclient.Error
	if !errors.As(err, &e) || e.Class != apiclient.ClassPermanent {
		return false
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// serverError reports an internal server error, which one op may cause.
func serverError(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && e.Status == http.StatusInternalServerError
}

func minAttempts(ops []localdb.OutboxOp) int {
	m := ops[0].Attempts
	for _, o := range ops[1:] {
		m = min(m, o.Attempts)
	}
	return m
}

// apply records the server's answers locally in one transaction, which
// also moves the pull cursor from from to to when to > from and the
// answers were all that changed in between (it reports whether it moved).
// The server has committed them: a cancellation does not stop this.
func (r *run) apply(ops []localdb.OutboxOp, results []protocol.OpResult, head, from, to int64) (bool, error) {
	ctx := context.WithoutCancel(r.ctx)
	moved, err := r.s.db.ApplyPushResultsAndAdvance(ctx, results, from, to)
	if err != nil {
		// The ops go back to the queue; replaying their ids returns these
		// same answers.
		r.retry(ops, err)
		return false, fmt.Errorf("apply push results: %w", err)
	}
	var step Summary
	for _, res := range results {
		state := model.StateSynced
		switch res.Result {
		case model.ResultApplied, model.ResultMerged:
			step.Pushed++
		case model.ResultConflict:
			step.Conflicts++
			state = model.StateConflict
		case model.ResultRejected:
			step.Failed++
			state = model.StateFailed
		}
		recordID := ""
		for _, o := range ops {
			if o.OpID == res.OpID {
				recordID = o.RecordID
				break
			}
		}
		r.s.emit(Event{Kind: EventRecord, RecordID: recordID, State: state, Result: res.Result, Err: res.Message})
	}
	r.sum.Pushed += step.Pushed
	r.sum.Conflicts += step.Conflicts
	r.sum.Failed += step.Failed
	r.s.noteHead(head)
	r.s.emit(Event{Kind: EventPushed, Counts: step})
	return moved, nil
}

// retry sends ops back to the queue after a transient failure, due after
// a backoff that grows with each op's attempts (or at once when the cycle
// was merely interrupted or the token refused: the loop waits anyway).
func (r *run) retry(ops []localdb.OutboxOp, cause error) {
	if len(ops) == 0 {
		return
	}
	now := r.s.opts.Now()
	msg := sentence(cause)
	var e *apiclient.Error
	errors.As(cause, &e)
	groups := map[int][]string{}
	for _, o := range ops {
		groups[o.Attempts] = append(groups[o.Attempts], o.OpID)
	}
	ctx := context.WithoutCancel(r.ctx)
	for attempts, ids := range groups {
		next := now
		if e != nil && e.Transient() {
			// attempts counts this send: the first failure waits Delay(0).
			d := r.s.opts.OpBackoff.Delay(attempts - 1)
			if e.RetryAfter > d {
				d = e.RetryAfter
			}
			next = now.Add(d)
		}
		mark := r.s.db.MarkRetry
		if apiclient.Undelivered(cause) {
			mark = r.s.db.MarkUndelivered
		}
		if err := mark(ctx, ids, msg, next); err != nil {
			r.s.log.Error("return ops to the queue", "ops", len(ids), "err", err)
			continue
		}
		r.s.scheduleRetry(next)
		for _, o := range ops {
			if o.Attempts == attempts {
				r.s.emit(Event{Kind: EventRecord, RecordID: o.RecordID, State: model.StateRetrying, Err: msg})
			}
		}
	}
}

// pull fetches pages after the local cursor until the server has no more,
// applying each with its cursor in one transaction.
func (r *run) pull() error {
	st, err := r.s.db.Status(r.ctx)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	cursor := st.Cursor
	progress := cursor == 0 // an initial sync shows progress from the first page
	if cursor == 0 {
		// A pull from 0 replaces what the device holds: a record it does
		// not show is gone on the server or out of this user's sight, and
		// the history that would say so may have been compacted. (On a
		// device that holds nothing this only sets the cursor.)
		if err := r.s.db.ResetCursor(r.ctx); err != nil {
			return fmt.Errorf("reset cursor: %w", err)
		}
	}
	// The later pages of a full pull (from 0, or the rest of a resync an
	// earlier cycle began) name the compaction mark it began under: they
	// may pass below it while it has not moved.
	mark, err := r.fullPullMark(cursor)
	if err != nil {
		return err
	}
	resynced := false
	var done, total int64
	for {
		r.begin()
		limit := r.s.pageSize.size()
		ask := limit
		if r.s.opts.PageSize == 0 && r.s.pageSize.full() {
			ask = 0 // the server's own page size
		}
		page, err := r.c.Pull(r.nctx, cursor, ask, mark)
		r.adapt(r.s.pageSize, "pull page", limit, err)
		if apiclient.ClassOf(err) == apiclient.ClassCursorTooOld && !resynced {
			// The server compacted past our cursor: read everything again.
			// ResetCursor keeps pending ops and conflicts.
			resynced = true
			r.s.log.Info("cursor too old: full resync", "cursor", cursor)
			if err := r.s.db.ResetCursor(r.ctx); err != nil {
				return fmt.Errorf("reset cursor: %w", err)
			}
			cursor, progress, done, total, mark = 0, true, 0, 0, apiclient.NoMark
			continue
		}
		if err != nil {
			return err
		}
		if err := r.s.db.ApplyPull(context.WithoutCancel(r.ctx), page); err != nil {
			return fmt.Errorf("apply pull: %w", err)
		}
		if cursor == 0 {
			mark = page.CompactedThrough
			if err := r.s.db.SetMeta(r.ctx, MetaFullPullMark, strconv.FormatInt(mark, 10)); err != nil {
				return fmt.Errorf("record the compaction mark: %w", err)
			}
		}
		n := int64(len(page.Records))
		total = max(total, done+page.Total, done+n)
		done += n
		r.sum.Pulled += int(n)
		cursor = page.Cursor
		r.s.notePulled(cursor, page.Head)
		if page.More {
			progress = true
		}
		if progress {
			r.s.emit(Event{Kind: EventProgress, Done: done, Total: total})
		}
		r.s.emit(Event{Kind: EventPulled, Counts: Summary{Pulled: int(n)}})
		if !page.More {
			break
		}
	}
	if err := r.s.db.NoteHead(r.ctx, r.s.serverHead()); err != nil {
		return fmt.Errorf("record server head: %w", err)
	}
	return nil
}

func (s *Syncer) noteHead(head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head = max(s.head, head)
}

func (s *Syncer) notePulled(cursor, head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulled = cursor
	s.head = max(s.head, head)
}

func (s *Syncer) serverHead() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
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

// Pull runs a pull-only cycle now: the server's changes until caught up,
// nothing sent. Doctor's repair uses it after resetting the cursor.
func (s *Syncer) Pull(ctx context.Context) (Summary, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Summary{}, errClosed
	}
	sum, err := s.cycle(ctx, wants{pull: true, forced: true})
	s.afterCycle(err)
	return sum, err
}

// Head returns the highest server change sequence this syncer has heard of.
func (s *Syncer) Head() int64 { return s.serverHead() }

// fullPullMark is the compaction mark the full pull resuming at cursor
// began under, or apiclient.NoMark when it is not one (or the mark was never
// recorded: the server then answers cursor_too_old and the pull starts
// over).
func (r *run) fullPullMark(cursor int64) (int64, error) {
	if cursor == 0 {
		return apiclient.NoMark, nil
	}
	flag, err := r.s.db.Meta(r.ctx, localdb.MetaResync)
	if err != nil {
		return apiclient.NoMark, fmt.Errorf("read resync flag: %w", err)
	}
	if flag != "1" {
		return apiclient.NoMark, nil
	}
	v, err := r.s.db.Meta(r.ctx, MetaFullPullMark)
	if err != nil {
		return apiclient.NoMark, fmt.Errorf("read the compaction mark: %w", err)
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mark < 0 {
		return apiclient.NoMark, nil
	}
	return mark, nil
}
