package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request, p *principal) {
	start := time.Now()
	w.Header().Set(protocol.HeaderAnswerBytes, strconv.Itoa(s.opts.PushAnswerBytes))
	var req protocol.PushRequest
	if ae := decodeBody(w, r, &req); ae != nil {
		s.writeError(w, r, ae)
		return
	}
	if len(req.Ops) > protocol.MaxOpsPerPush {
		s.writeError(w, r, &apiError{status: http.StatusBadRequest, code: protocol.CodeTooManyOps,
			msg: fmt.Sprintf("A push holds at most %d ops; this one has %d.", protocol.MaxOpsPerPush, len(req.Ops))})
		return
	}
	for i, op := range req.Ops {
		if msg := checkOp(op); msg != "" {
			s.writeError(w, r, errBadRequest("Op %d: %s", i+1, msg))
			return
		}
	}
	// A batch that started finishes even if the client goes away or the
	// server shuts down: its result is committed with the ledger, and a
	// replay returns it, so finishing is always safe.
	ctx := context.WithoutCancel(r.Context())
	outcomes, prior, head, err := s.applyBatch(ctx, p, req.Ops)
	if errors.Is(err, errAnswerTooLarge) {
		s.metrics.answerTooLarge.Inc()
		s.log.Debug("push refused: its answer would be too large", append(logAttrs(p), "ops", len(req.Ops))...)
		s.writeError(w, r, err)
		return
	}
	if ae := (*apiError)(nil); errors.As(err, &ae) {
		s.refuse(w, r, ae)
		return
	}
	if err != nil {
		s.writeError(w, r, errInternal(err))
		return
	}
	resp := protocol.PushResponse{Results: make([]protocol.OpResult, 0, len(req.Ops))}
	texts := make([][]byte, 0, len(req.Ops))
	size := pushAnswerSize
	var failed []error
	for _, o := range outcomes {
		if o.err != nil {
			failed = append(failed, o.err)
			continue
		}
		s.metrics.opResult(o.res.Result)
		resp.Results = append(resp.Results, o.res)
		texts = append(texts, o.text)
		size += len(o.text) + 1
	}
	if len(failed) > 0 {
		// The other ops are committed. v1 has no per-op "try again"
		// (rejected is for good), so the batch answers 500: the client
		// sends it again, the committed ops replay their results from the
		// ledger and the failed ones run again.
		s.writeError(w, r, errInternal(errors.Join(failed...)))
		return
	}
	resp.Head, resp.Prior = head, &prior
	if theirs := r.Header.Get(protocol.HeaderSchema); theirs != "" && theirs != s.schemaPrint {
		for i := range resp.Results {
			// One result per op, in order: a batch with an op that failed
			// was answered 500 above.
			explainDrift(&resp.Results[i], req.Ops[i].Collection, s.schema)
			texts[i] = nil // it may have rewritten the result: encode it again
		}
	}
	if wantsLean(r) {
		leanAnswers(req.Ops, &resp, texts)
	}
	w.Header().Set(protocol.HeaderSchema, s.schemaPrint)
	if c, ok := clientCursor(r); ok && c == prior {
		// Every change after the client's cursor is this batch's, and the
		// results carry each one: the client need not pull them back.
		resp.Cursor = head
	}
	s.metrics.pushed(time.Since(start))
	s.log.Debug("push", append(logAttrs(p), "ops", len(req.Ops), "head", head)...)
	body, err := appendPushResponse(make([]byte, 0, size), &resp, texts)
	if err != nil {
		// json.Marshal fails on it too: writeJSON answers as it did.
		writeJSON(w, http.StatusOK, resp)
		return
	}
	writeJSONBody(w, http.StatusOK, body)
}

// pushAnswerSize is room for a push's answer but for its results.
const pushAnswerSize = 128

// outcome is what became of one op of a batch: its result and the result's
// JSON, or the error that undid it.
type outcome struct {
	res  protocol.OpResult
	text []byte
	err  error
}

// clientCursor reads the pull cursor a push names in HeaderCursor.
func clientCursor(r *http.Request) (int64, bool) {
	v := r.Header.Get(protocol.HeaderCursor)
	if v == "" {
		return 0, false
	}
	c, err := strconv.ParseInt(v, 10, 64)
	return c, err == nil && c >= 0
}

// applyBatch applies a push's ops in order and returns their outcomes
// with the head before and after them; every sequence between the two is
// this batch's. Each op runs in a savepoint of its own with its ledger and
// audit rows: an op that fails is undone alone, with its error in its
// outcome, and the others go on. The batch is committed in one write
// transaction, shared with the batches of other pushes that arrived
// meanwhile (see pushGroup), so many pushes cost one disk sync. An error
// means nothing of the batch was committed.
// A push whose token was refused fails with an *apiError (errUnauthorized
// or errDeviceRevoked), having applied nothing.
func (s *Server) applyBatch(ctx context.Context, p *principal, ops []model.Op) ([]outcome, int64, int64, error) {
	if len(ops) == 0 {
		// Nothing to write: no need to wait for the write lock, but a
		// holder taken from the memo is read as any request's is.
		if p.unconfirmed {
			if _, ae := s.readPrincipal(ctx, p.tokenHash); ae != nil {
				return nil, 0, 0, ae
			}
		}
		head, err := s.Head(ctx)
		return nil, head, head, err
	}
	j := &pushJob{p: p, ops: ops, done: make(chan struct{}), lead: make(chan struct{})}
	s.group.run(ctx, j, s.commitGroup)
	if j.refused != nil {
		return nil, 0, 0, j.refused
	}
	if j.tooLarge {
		return nil, 0, 0, errAnswerTooLarge
	}
	return j.outcomes, j.prior, j.head, j.err
}

// confirmHolders confirms, in a group's write transaction and before it
// writes, the holders of the jobs' tokens taken from the access memo
// (authenticateFromMemo): one whose generation is the transaction's
// stands; another is read again, and a job whose token is now unknown,
// expired or revoked is refused, to apply nothing. A holder read again
// may have another role, which its job applies with.
func (s *Server) confirmHolders(ctx context.Context, tx store.Tx, group []*pushJob) error {
	var gen int64
	read := false
	for _, j := range group {
		if !j.p.unconfirmed {
			continue
		}
		if !read {
			g, err := tx.AccessGenAtStart(ctx)
			if err != nil {
				return err
			}
			gen, read = g, true
		}
		if j.p.gen == gen {
			continue
		}
		tok, u, err := tx.Holder(ctx, j.p.tokenHash)
		if err == nil {
			s.reads.memo.learn(gen, j.p.tokenHash, holder{tok, u})
		}
		var p *principal
		if err == nil {
			p, err = s.principalFrom(tok, u, j.p.tokenHash)
		}
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, errRevokedDevice):
			j.refused = principalError(err)
		case err != nil:
			return err
		default:
			p.origin = j.p.origin
			j.p = p
		}
	}
	return nil
}

// commitGroup applies the batches of a group in one write transaction,
// each from the head the one before it left, and commits them together.
//
// An op that fails (an error, not a rejection) must leave no trace while
// the others stand, which a savepoint around each op gives. Ops almost
// never fail, and a savepoint costs two statements (two round trips on
// PostgreSQL), so the group is first applied without them; if an op fails,
// that transaction is rolled back whole and the group applied again with
// a savepoint around each op. Both attempts decide the same: nothing but
// the transaction's own writes is read.
//
// A batch whose answer passes Options.PushAnswerBytes (applyJob) is
// undone the same way, rather than by a savepoint around every batch,
// which would cost every group those round trips for a refusal that a
// client sizing its batches meets rarely: the transaction is rolled back
// whole, the batch marked refused, and the group applied again without
// it. The batches before it are applied again as they were; those after
// it were not begun. Each attempt refuses one more batch, so this ends.
// Under the savepoints of a second attempt, the same holds.
//
// A group whose connection to the database died before its COMMIT was
// sent (store.ErrNotCommitted: PostgreSQL restarted, the network reset
// the connection) left nothing done, and goes again once on another
// connection, from the head as it then is: another replica may have
// written meanwhile, as if the group had come after it. A connection
// that dies after the COMMIT was sent leaves the group's fate unknown:
// its pushes are answered 500, and the ledger answers their resends.
func (s *Server) commitGroup(ctx context.Context, group []*pushJob) {
	ctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	apply := func(guarded bool) error {
		return s.st.Write(ctx, func(tx store.Tx) error {
			// The ledger entries, records, matters and memberships the
			// whole group needs are looked up at once: with PostgreSQL, a
			// round trip for each of them for each push while the group
			// holds the head's lock was most of a small push's cost, and
			// one for each kind was still a third of a group's hold.
			var opIDs, recordIDs, users, matters []string
			for _, j := range group {
				for _, op := range j.ops {
					opIDs, recordIDs = append(opIDs, op.OpID), append(recordIDs, op.RecordID)
					if m, ok := op.Fields[model.MatterField].(string); ok && model.ValidID(m) && m != op.RecordID {
						recordIDs = append(recordIDs, m)
						if !j.p.admin() {
							users, matters = append(users, j.p.user), append(matters, m)
						}
					}
				}
			}
			if err := tx.Preload(ctx, store.Ahead{OpIDs: opIDs, RecordIDs: recordIDs, Users: users, Matters: matters}); err != nil {
				return err
			}
			if err := s.confirmHolders(ctx, tx, group); err != nil {
				return err
			}
			for _, j := range group {
				if j.refused != nil || j.tooLarge {
					continue
				}
				if err := s.applyJob(ctx, tx, j, guarded); err != nil {
					return err
				}
			}
			return nil
		})
	}
	guarded, again := false, false
	var err error
	for {
		err = apply(guarded)
		if errors.Is(err, errAnswerTooLarge) {
			continue // applyJob marked the batch: the others go again without it
		}
		if errors.Is(err, errOpFailed) && !guarded {
			guarded = true
			continue
		}
		if errors.Is(err, store.ErrNotCommitted) && !again {
			// The database restarted or the network reset the
			// connection before the group's COMMIT was sent: nothing of
			// it happened. It goes again, once, on another connection,
			// rather than answer every push of it 500.
			again = true
			continue
		}
		break
	}
	for _, j := range group {
		if err != nil {
			j.outcomes, j.err = nil, fmt.Errorf("push of %d ops: %w", len(j.ops), err)
		}
	}
}

// DefaultPushAnswerBytes bounds the results of one batch's answer, as
// JSON, unless Options.PushAnswerBytes says otherwise: the request bound
// and an allowance per op (protocol.MaxAnswerBytes). A batch of one op is
// never refused for it, so that every record can always be written and
// answered on its own: its result is one record, whose size its schema
// bounds (model.Field's limits: a text value of 1,000 characters, a
// longtext of 100,000, 100 tags of 100, each character at most 6 bytes of
// JSON), about 1.3 MB for the largest collection of assets/schema.toml,
// far under the bound.
const DefaultPushAnswerBytes = protocol.MaxAnswerBytes

// errAnswerTooLarge refuses a batch whose results would pass
// Options.PushAnswerBytes. Nothing of it is applied, so sending its ops
// again in smaller batches applies them; clients split a batch refused
// with 413.
var errAnswerTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, code: protocol.CodeAnswerTooLarge,
	msg: "The answer to this push would be too large: the records it changes are large. Nothing of it was applied; send fewer changes at a time."}

// errOpFailed stops a group applied without savepoints at its first
// failing op, to be applied again with them (see commitGroup).
var errOpFailed = errors.New("an op failed outside a savepoint")

// applyJob applies one push's ops inside the group's transaction, which
// holds the sequence lock from its start to its commit. guarded puts each
// op in a savepoint, so that one that fails leaves no trace; unguarded, an
// op that fails fails the transaction with errOpFailed.
func (s *Server) applyJob(ctx context.Context, tx store.Tx, j *pushJob, guarded bool) error {
	prior, err := tx.Head(ctx)
	if err != nil {
		return err
	}
	j.outcomes = make([]outcome, len(j.ops))
	acc := &accessCache{}
	size := 0 // the results' JSON so far, as the answer will carry them
	for i, op := range j.ops {
		o := &j.outcomes[i]
		// An op of a matter may change what the cache holds (a new matter
		// and its creator's membership, a deleted matter); whether it
		// stands is known after its savepoint.
		matterOp := op.Collection == model.MatterCollection
		if matterOp {
			acc.forget()
		}
		if guarded {
			o.err = tx.Savepoint(ctx, func(tx store.Tx) (err error) {
				o.res, o.text, err = s.applyOp(ctx, tx, j.p, acc, op)
				return err
			})
		} else if o.res, o.text, o.err = s.applyOp(ctx, tx, j.p, acc, op); o.err != nil && !errors.Is(o.err, store.ErrTxLost) {
			return fmt.Errorf("%w: op %s: %w", errOpFailed, op.OpID, o.err)
		}
		if matterOp {
			acc.forget()
		}
		if errors.Is(o.err, store.ErrTxLost) {
			return o.err
		}
		if o.err != nil {
			o.err = fmt.Errorf("apply op %s: %w", op.OpID, o.err)
		}
		// The text is the result's JSON, encoded once for the ledger and
		// the answer: measuring it costs a length. Stopping here bounds
		// the work done under the write lock, not only the answer.
		if size += len(o.text) + 1; size > s.opts.PushAnswerBytes && len(j.ops) > 1 {
			j.tooLarge, j.outcomes = true, nil
			return fmt.Errorf("%w: %d of %d ops gave %d bytes", errAnswerTooLarge, i+1, len(j.ops), size)
		}
	}
	head, err := tx.Head(ctx)
	j.prior, j.head = prior.Seq, head.Seq
	return err
}

// checkOp returns what is malformed in an op, or "". These are faults of
// the sending program, not of the user's data, so they refuse the batch;
// problems with the data are per-op rejections.
func checkOp(op model.Op) string {
	switch {
	case !model.ValidID(op.OpID):
		return "op_id must be a UUID in lower-case canonical form."
	case !model.ValidID(op.RecordID):
		return "record_id must be a UUID in lower-case canonical form."
	case op.Kind != model.OpCreate && op.Kind != model.OpUpdate && op.Kind != model.OpDelete:
		return "kind must be create, update or delete."
	case op.Collection == "":
		return "collection is required."
	case op.BaseVersion < 0:
		return "base_version cannot be negative."
	case op.BaseVersion > model.MaxVersion:
		return fmt.Sprintf("base_version cannot be above %d.", int64(model.MaxVersion))
	case op.SentSince < 0:
		return "sent_since cannot be negative."
	case op.Kind == model.OpDelete && len(op.Fields) > 0:
		return "a delete carries no fields."
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func joinNames(names []string) string { return strings.Join(names, ", ") }
