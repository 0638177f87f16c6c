package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

// Sentences of rejected ops. A record or matter the user may not see gets
// exactly the answer of one that does not exist.
const (
	msgNoRecord   = "No such record."
	msgNoMatter   = "No such matter."
	msgIDTaken    = "A record with this id already exists."
	msgOpIDTaken  = "This op id was already used."
	msgReadOnly   = "Viewers cannot change records."
	msgConflict   = "The record changed on the server since your version; review the overlapping fields."
	msgDeleted    = "The record was deleted on the server."
	msgDeleteEdit = "The record changed on the server since your version; review before deleting it."
	msgHadIt      = "The server already had this record; its copy stands."
	msgHadDeleted = "The server already had this record and it was deleted there; it stays deleted."
	msgUnknown    = "This change was first sent long ago and the server has since cleared its record of old answers, so it cannot tell whether the change arrived; compare the record, then send it again or discard it."
)

// applyOp decides and writes one op together with its ledger row and
// audit row, inside tx (a savepoint of its push's transaction). It returns
// the op's result and its JSON (encodeResult), which the ledger row holds
// and the push's answer carries. A replayed op id returns the stored
// result and changes nothing.
func (s *Server) applyOp(ctx context.Context, tx store.Tx, p *principal, acc *accessCache, op model.Op) (protocol.OpResult, []byte, error) {
	var res protocol.OpResult
	e, err := tx.Ledger(ctx, op.OpID)
	switch {
	case err == nil:
		if e.User != p.user {
			return answered(rejected(op, protocol.CodeIDConflict, msgOpIDTaken))
		}
		if err := json.Unmarshal(e.Result, &res); err != nil {
			return res, nil, fmt.Errorf("decode ledger result: %w", err)
		}
		// The stored answer may hold a record the user may no longer
		// see; never show it again. A conflict changed nothing and is
		// nothing without its record (a client would read it as a
		// delete): it is answered as the op would be now, as of a record
		// that does not exist.
		if res.Record != nil {
			ok, err := stillVisible(ctx, s, tx, p, acc, res.Record)
			if err != nil {
				return res, nil, err
			}
			switch {
			case !ok && res.Result == model.ResultConflict:
				res = rejected(op, protocol.CodeNotFound, msgNoRecord)
			case !ok:
				res.Record = nil
			}
		}
		// Encoded again, not sent as stored: the record may be out of it.
		return answered(res)
	case !errors.Is(err, store.ErrNotFound):
		return res, nil, err
	case op.Resent:
		// Every answer stored at a sequence from LedgerThrough on is still
		// here, and an op is answered at a head no lower than the cursor
		// its sender held before sending it: from such a cursor, no answer
		// means never applied. From an earlier one it may have been
		// applied and its answer compacted; applying it again could make
		// it take effect twice.
		h, err := tx.Head(ctx)
		if err != nil {
			return res, nil, err
		}
		if op.SentSince < h.LedgerThrough {
			return answered(rejected(op, protocol.CodeOutcomeUnknown, msgUnknown))
		}
	}
	a := &applier{s: s, tx: tx, p: p, acc: acc, op: op}
	if res, err = a.run(ctx); err != nil {
		return res, nil, err
	}
	res, b, err := answered(res)
	if err != nil {
		return res, nil, err
	}
	return res, b, tx.PutLedger(ctx, store.LedgerEntry{OpID: op.OpID, User: p.user, Device: p.device, At: s.now(), Result: b})
}

// stillVisible reports whether the user may see now a record a stored
// answer holds: both the matter the answer shows and the one the record
// is in now. A record moved since out of the user's sight is not shown
// again as it was. A record with no row left needs no second look: the
// compaction that removed its tombstone removed every answer older than
// its delete, and a later one shows the tombstone's matter.
func stillVisible(ctx context.Context, s *Server, tx store.Tx, p *principal, acc *accessCache, r *protocol.Record) (bool, error) {
	matters := []string{r.MatterID}
	if cur, err := tx.Record(ctx, r.ID); err == nil {
		matters = append(matters, cur.MatterID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	for _, m := range matters {
		if ok, err := acc.visible(ctx, s, tx, p, m); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// answered returns res with its JSON.
func answered(res protocol.OpResult) (protocol.OpResult, []byte, error) {
	b, err := encodeResult(&res)
	return res, b, err
}

func rejected(op model.Op, code protocol.Code, msg string) protocol.OpResult {
	return protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: code, Message: msg}
}

// invalid rejects an op whose fields break the schema, naming each field.
func invalid(op model.Op, probs model.Problems) protocol.OpResult {
	res := rejected(op, protocol.CodeValidation, probs.Error())
	res.Problems = probs
	return res
}

// applier decides and writes one op inside its transaction.
type applier struct {
	s   *Server
	tx  store.Tx
	p   *principal
	acc *accessCache
	op  model.Op
}

func (a *applier) run(ctx context.Context) (protocol.OpResult, error) {
	op := a.op
	if a.p.role == RoleViewer {
		return rejected(op, protocol.CodeReadOnly, msgReadOnly), nil
	}
	col, ok := a.s.schema.Collection(op.Collection)
	if !ok {
		return rejected(op, protocol.CodeValidation, fmt.Sprintf("No such collection %q (collections: %s).",
			truncate(op.Collection, 64), joinNames(a.s.schema.Names()))), nil
	}
	switch op.Kind {
	case model.OpCreate:
		return a.create(ctx, col)
	case model.OpUpdate:
		return a.update(ctx, col)
	default:
		return a.delete(ctx)
	}
}

// current returns the op's record when the user may see it; ok false means
// "no such record" for this user.
func (a *applier) current(ctx context.Context) (store.Record, bool, error) {
	cur, err := a.tx.Record(ctx, a.op.RecordID)
	if errors.Is(err, store.ErrNotFound) {
		return cur, false, nil
	}
	if err != nil {
		return cur, false, err
	}
	ok, err := a.acc.visible(ctx, a.s, a.tx, a.p, cur.MatterID)
	if err != nil || !ok || cur.Collection != a.op.Collection {
		return cur, false, err
	}
	return cur, true, nil
}

// moved notes a record leaving a matter, so its members who cannot see
// the new one drop it, and pokes them.
func (a *applier) moved(ctx context.Context, seq int64, from, to string) error {
	if err := a.tx.AddMove(ctx, store.Move{Seq: seq, RecordID: a.op.RecordID, FromMatter: from, ToMatter: to, At: a.s.now()}); err != nil {
		return err
	}
	a.tx.Notify(store.Hint{Seq: seq, MatterID: from, Origin: a.p.origin})
	return nil
}

// written audits a record change and hints its matter.
func (a *applier) written(ctx context.Context, action, before string, rec store.Record) error {
	a.tx.Notify(store.Hint{Seq: rec.Seq, MatterID: rec.MatterID, Origin: a.p.origin})
	return a.s.audit(ctx, a.tx, &store.AuditEntry{Seq: rec.Seq, At: rec.UpdatedAt, Actor: a.p.user, Device: a.p.device,
		Action: action, Target: rec.Collection + "/" + rec.ID, Before: before, After: RecordDigest(rec)})
}

// visible reports whether the user may see a matter's records.
func (s *Server) visible(ctx context.Context, r store.Reader, p *principal, matterID string) (bool, error) {
	if p.admin() {
		return true, nil
	}
	return r.IsMember(ctx, p.user, matterID)
}

// usableMatter reports whether records may be put in a matter: it exists,
// is not deleted and the user sees it.
func (s *Server) usableMatter(ctx context.Context, r store.Reader, p *principal, matterID string) (bool, error) {
	if !model.ValidID(matterID) {
		return false, nil
	}
	ok, err := s.visible(ctx, r, p, matterID)
	if err != nil || !ok {
		return false, err
	}
	m, err := r.Record(ctx, matterID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Collection == model.MatterCollection && !m.Deleted, nil
}

func toProtocol(r store.Record) *protocol.Record {
	fields := r.Fields
	if fields == nil {
		fields = model.Fields{}
	}
	return &protocol.Record{ID: r.ID, Collection: r.Collection, MatterID: r.MatterID, Version: r.Version, Seq: r.Seq,
		Deleted: r.Deleted, Fields: fields, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}
}

// knownNames returns the names in f that are fields of the collection,
// sorted.
func knownNames(col *model.Collection, f model.Fields) []string {
	var names []string
	for name := range f {
		if _, ok := col.Field(name); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// accessCache keeps, for the ops of one push, what visible and
// usableMatter answered for each matter: a batch's ops mostly share a few
// matters, and only an op of a matter can change the answers (the push
// forgets them around such an op). Other writers cannot: the push's
// transaction holds the write lock.
type accessCache struct {
	seen, usable map[string]bool
}

func (c *accessCache) forget() { c.seen, c.usable = nil, nil }

func (c *accessCache) visible(ctx context.Context, s *Server, r store.Reader, p *principal, matterID string) (bool, error) {
	if ok, known := c.seen[matterID]; known {
		return ok, nil
	}
	ok, err := s.visible(ctx, r, p, matterID)
	if err != nil {
		return false, err
	}
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[matterID] = ok
	return ok, nil
}

func (c *accessCache) usableMatter(ctx context.Context, s *Server, r store.Reader, p *principal, matterID string) (bool, error) {
	if ok, known := c.usable[matterID]; known {
		return ok, nil
	}
	ok, err := s.usableMatter(ctx, r, p, matterID)
	if err != nil {
		return false, err
	}
	if c.usable == nil {
		c.usable = map[string]bool{}
	}
	c.usable[matterID] = ok
	return ok, nil
}

// lastChange names who made the latest change of the fields an op met,
// and when. A record written before the server kept who changed each
// field answers with its own last change.
func lastChange(cur store.Record, fields []string) (string, time.Time) {
	var latest string
	for _, f := range fields {
		if latest == "" || cur.FieldVersions[f] > cur.FieldVersions[latest] {
			latest = f
		}
	}
	if ch, ok := cur.FieldChanges[latest]; ok && ch.By != "" {
		return ch.By, ch.At
	}
	return cur.UpdatedBy, cur.UpdatedAt
}
