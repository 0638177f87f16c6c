package syncer

import (
	"context"
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

// huntAfter is how many times a batch must have failed with a server error
// before it is split to find the one op that makes the server fail, so
// that one poisoned op cannot hold back the records queued with it.
const huntAfter = 2

// forcedHorizon makes every retrying op due in a cycle a person asked for.
const forcedHorizon = 100 * 365 * 24 * time.Hour

// pushAnswerBudget is what a batch's answer is expected to hold at most:
// half of what the server allows (protocol.MaxAnswerBytes, or less when
// the server says so: answerBudget), since the server's copies of the
// records may have grown since this device's. A batch the server still
// refuses as too large is split in halves like any batch refused with 413
// (handle), and one op is never refused for it.
const pushAnswerBudget = protocol.MaxAnswerBytes / 2

// answerBudget is the budget the next batch is taken with: half the bound
// the server said it holds answers to, when it said one, never more than
// pushAnswerBudget.
func (r *run) answerBudget() int {
	if n := r.s.answerBytes; n > 0 {
		return max(1, min(pushAnswerBudget, n/2))
	}
	return pushAnswerBudget
}

// noteAnswerBytes takes up the bound on answers the server's last answer
// to a push gave, and keeps it for the next process when it changed.
func (r *run) noteAnswerBytes() {
	n := r.c.AnswerBytes()
	if n <= 0 || n == r.s.answerBytes {
		return
	}
	r.s.answerBytes = n
	if err := r.s.db.SetMeta(context.WithoutCancel(r.ctx), MetaAnswerBytes, strconv.Itoa(n)); err != nil {
		r.s.log.Warn("remember the server's answer bound", "bytes", n, "err", err)
	}
}

// resized puts back in the queue a batch refused as answer_too_large
// that was taken with a larger budget than the server's bound, now known,
// allows: taken again, it goes in batches sized by that bound rather than
// in halves. It reports whether it did.
func (r *run) resized(p *pushSend, err error) bool {
	var e *apiclient.Error
	if len(p.ops) < 2 || !errors.As(err, &e) || e.Code != protocol.CodeAnswerTooLarge || p.budget <= r.answerBudget() {
		return false
	}
	r.unclaim(p.ops)
	return true
}

// push drains the due outbox in batches. Once an answer has carried its
// batch's prior head (protocol.PushResponse.Prior), the client and the
// server work at once: while the server applies batch N, the syncer
// applies the answers to N-1 and takes and encodes N+1, which goes out as
// soon as N is answered. The answers are applied in the order the batches
// were sent; a batch taken but never sent goes back to the queue as it
// was (localdb.DB.Unclaim).
func (r *run) push() error {
	horizon := r.s.opts.Now()
	if r.w.forced {
		horizon = horizon.Add(forcedHorizon)
	}
	if err := r.learnHead(); err != nil {
		return err
	}
	r.recallBatch()
	var sent, answered *pushSend // on the server; answered, not yet applied
	for {
		if err := r.nctx.Err(); err != nil {
			return r.finish(sent, errors.Join(err, r.settle(answered)))
		}
		if err := r.settle(answered); err != nil {
			return r.finish(sent, err)
		}
		answered = nil
		if sent != nil && (!r.s.overlapPushes || !sent.full) {
			// Until an answer has said where its batch began, each batch's
			// answers are applied before the next batch is taken; so too
			// after a batch that emptied the queue: what is saved while it
			// travels goes in one batch afterwards, instead of in many
			// small ones that would take the database from the person
			// saving.
			err := r.waitPush(sent)
			if err != nil {
				err = r.refused(sent, err)
			} else {
				err = r.settle(sent)
			}
			if err != nil {
				return err
			}
			sent = nil
		}
		limit := r.s.batchSize.size()
		budget := r.answerBudget()
		batch, cut, err := r.s.db.NextPushBatch(r.ctx, horizon, limit, budget)
		if err != nil {
			return r.finish(sent, fmt.Errorf("next batch: %w", err))
		}
		var next *pushSend
		var unsendable error
		if len(batch) > 0 {
			next, unsendable = r.preparePush(batch)
			if next != nil {
				next.budget = budget
				if limit <= 0 || limit > protocol.MaxOpsPerPush {
					limit = protocol.MaxOpsPerPush // as NextPushBatch bounds it
				}
				// A batch cut to fit its answer has more behind it too.
				next.full = len(batch) >= limit || cut
			}
			if sent != nil {
				r.sum.Overlapped++
			}
		}
		if sent != nil {
			if err := r.waitPush(sent); err != nil {
				r.unclaim(batch)
				if err := r.refused(sent, err); err != nil {
					return err
				}
				sent = nil
				continue
			}
			answered, sent = sent, nil
		}
		switch {
		case len(batch) == 0 && answered == nil:
			r.scheduleNextRetry()
			return nil
		case len(batch) == 0:
			// The ops queued behind the answered ones become due once
			// their answers are applied.
			continue
		case unsendable != nil:
			// Nothing of it was sent.
			if err := errors.Join(r.settle(answered), r.handle(batch, unsendable)); err != nil {
				return err
			}
			answered = nil
			continue
		}
		if err := r.sendPush(next); err != nil {
			r.unclaim(batch)
			return errors.Join(err, r.settle(answered))
		}
		sent = next
	}
}

// finish ends a push that stops with err while p (if any) is on the
// server: p's answers are applied, or its ops go back to the queue.
func (r *run) finish(p *pushSend, err error) error {
	if p == nil {
		return err
	}
	if perr := r.waitPush(p); perr != nil {
		r.retry(p.ops, perr)
		return errors.Join(err, perr)
	}
	return errors.Join(err, r.settle(p))
}

// unclaim puts a batch taken but never sent back in the queue as it was.
func (r *run) unclaim(ops []localdb.OutboxOp) {
	if len(ops) == 0 {
		return
	}
	if err := r.s.db.Unclaim(context.WithoutCancel(r.ctx), ops); err != nil {
		r.s.log.Error("return unsent ops to the queue", "ops", len(ops), "err", err)
		// The database keeps them, and puts them back once it can
		// (localdb.DB.ReturnStranded).
	}
}

// scheduleNextRetry wakes the loop when the first op still waiting for a
// retry becomes due. The time each failure set is scheduled as it is set,
// but NextBatch moves the retry times of a clock that went back (each op
// waits its own delay from the new now), and only the database knows where
// they went.
func (r *run) scheduleNextRetry() {
	next, ok, err := r.s.db.NextRetry(r.ctx)
	if err != nil {
		r.s.log.Warn("read the next retry time", "err", err)
		return
	}
	if ok {
		r.s.scheduleRetry(next)
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

// attempt sends ops in one request and applies the answers.
func (r *run) attempt(ops []localdb.OutboxOp) error {
	p, err := r.preparePush(ops)
	if err != nil {
		return err
	}
	if err := r.sendPush(p); err != nil {
		return err
	}
	if err := r.waitPush(p); err != nil {
		return r.refusedOne(p, err)
	}
	return r.settle(p)
}

// pushSend is one push request, sent on a goroutine of its own.
type pushSend struct {
	ops  []localdb.OutboxOp
	body *apiclient.Push
	// cursor is the pull cursor the push named (-1: none, in a resync).
	cursor int64
	done   chan struct{}
	resp   protocol.PushResponse
	err    error
	// full is set on a batch as large as the queue was allowed to give:
	// more may wait behind it.
	full bool
	// budget is the answer budget the batch was taken with (0: none, a
	// batch split from a refused one).
	budget int
}

// preparePush encodes ops for one request; an error means they cannot be
// sent as one.
func (r *run) preparePush(ops []localdb.OutboxOp) (*pushSend, error) {
	wire := make([]apiclient.PushOp, len(ops))
	for i, o := range ops {
		wire[i] = apiclient.PushOp{Op: o.Op, FieldsJSON: o.FieldsJSON}
	}
	body, err := apiclient.EncodePush(wire)
	if err != nil {
		return nil, err
	}
	if len(ops) > 1 && body.Size() > protocol.MaxBodyBytes {
		return nil, &apiclient.Error{Class: apiclient.ClassPermanent, Status: http.StatusRequestEntityTooLarge, Code: protocol.CodeTooLarge,
			Message: "The batch is too large for one request."}
	}
	return &pushSend{ops: ops, body: body, done: make(chan struct{})}, nil
}

// sendPush sends p on a goroutine, naming the pull cursor as it stands:
// when the batch is all that changed after it, the answer says so and the
// pull need not fetch this device's own writes back. An error means
// nothing was sent.
func (r *run) sendPush(p *pushSend) error {
	cursor, named, err := r.s.db.PushCursor(r.ctx)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if !named {
		cursor = -1
	}
	p.cursor = cursor
	r.begin()
	go func() {
		defer close(p.done)
		p.resp, p.err = r.c.SendPush(r.nctx, p.body, cursor)
	}()
	return nil
}

// waitPush waits for p's answer; the next batch is sized by how it went.
func (r *run) waitPush(p *pushSend) error {
	<-p.done
	r.noteAnswerBytes()
	r.adapt(r.s.batchSize, "push batch", len(p.ops), p.err)
	if p.err == nil && p.resp.Prior != nil {
		r.s.overlapPushes = true
	}
	return p.err
}

// refused deals with a push that failed with err: a request refused for
// good that carried one op becomes that op's rejection; otherwise the ops
// are split, hunted through or sent back to the queue (handle).
func (r *run) refused(p *pushSend, err error) error {
	if r.resized(p, err) {
		return nil
	}
	if err := r.refusedOne(p, err); err != nil {
		return r.handle(p.ops, err)
	}
	return nil
}

// refusedOne turns a one-op request refused for good into the op's
// rejection, applied; any other failure comes back as it is.
func (r *run) refusedOne(p *pushSend, err error) error {
	if len(p.ops) == 1 && opSpecific(err) {
		_, err := r.apply(p.ops, []protocol.OpResult{rejection(p.ops[0], err)}, 0, 0, 0)
		return err
	}
	return err
}

// settle applies an answered push's results (nothing when p is nil), with
// the pull cursor they may move in the same commit: from the batch's prior
// head (or the cursor it named, to a server older than prior) to its head.
func (r *run) settle(p *pushSend) error {
	if p == nil {
		return nil
	}
	resp := p.resp
	from, to := int64(0), int64(0)
	switch {
	case resp.Prior != nil && p.cursor >= 0:
		from, to = *resp.Prior, resp.Head
	case p.cursor >= 0 && resp.Cursor > p.cursor:
		from, to = p.cursor, resp.Cursor
	}
	moved, err := r.apply(p.ops, resp.Results, resp.Head, from, to)
	if err != nil {
		return err
	}
	if moved {
		r.s.notePulled(to, resp.Head)
	}
	return nil
}

// adapt sizes the next exchange of its kind after one of n things ended
// with err: smaller after the link broke it (a cut or reset connection
// fails a large push on a flaky link as surely as a timeout does), larger
// again after successes. An answer of the server's, even a refusal, or a
// failure to connect at all says nothing about the size.
func (r *run) adapt(a *adaptiveSize, what string, n int, err error) {
	changed := false
	switch {
	case err == nil:
		changed = a.succeeded()
	case apiclient.LinkBroke(err):
		changed = a.shrink(n)
		r.s.log.Info("the link broke the exchange: asking for less", "what", what, "size", n, "next", a.size(), "err", err)
	}
	if changed && a == r.s.batchSize {
		r.rememberBatch()
	}
}

// recallBatch starts the first push of this syncer at the batch size an
// earlier one learned: on a link that cuts long requests, every new
// process would otherwise send the full batch the link cut the last time.
// It reads back the server's answer bound too (MetaAnswerBytes).
func (r *run) recallBatch() {
	if r.s.batchRecalled {
		return
	}
	r.s.batchRecalled = true
	v, err := r.s.db.Meta(r.ctx, MetaPushBatch)
	if err != nil {
		r.s.log.Warn("read the learned push batch size", "err", err)
		return
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		r.s.batchSize.restore(n)
	}
	v, err = r.s.db.Meta(r.ctx, MetaAnswerBytes)
	if err != nil {
		r.s.log.Warn("read the server's answer bound", "err", err)
		return
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 && r.s.answerBytes == 0 {
		r.s.answerBytes = n
	}
}

// rememberBatch keeps the push batch size for the next process. A size
// back at its maximum is kept too, so that a stale small one is not read
// back later.
func (r *run) rememberBatch() {
	n := r.s.batchSize.size()
	if err := r.s.db.SetMeta(context.WithoutCancel(r.ctx), MetaPushBatch, strconv.Itoa(n)); err != nil {
		r.s.log.Warn("remember the push batch size", "size", n, "err", err)
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
	moved, err := r.s.db.ApplyPushResultsAndAdvance(ctx, ops, results, from, to)
	if err != nil {
		// The ops go back to the queue; replaying their ids returns these
		// same answers.
		r.retry(ops, err)
		return false, err // it says "apply push results" already
	}
	var step Summary
	recordOf := make(map[string]string, len(ops))
	for _, o := range ops {
		recordOf[o.OpID] = o.RecordID
	}
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
		r.s.emit(Event{Kind: EventRecord, RecordID: recordOf[res.OpID], State: state, Result: res.Result, Err: res.Message})
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
