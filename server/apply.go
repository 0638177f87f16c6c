package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
// audit row, inside tx (a savepoint of its push's transaction). A replayed
// op id returns the stored result and changes nothing.
func (s *Server) applyOp(ctx context.Context, tx store.Tx, p *principal, acc *accessCache, op model.Op) (protocol.OpResult, error) {
	var res protocol.OpResult
	e, err := tx.Ledger(ctx, op.OpID)
	switch {
	case err == nil:
		if e.User != p.user {
			return rejected(op, protocol.CodeIDConflict, msgOpIDTaken), nil
		}
		if err := json.Unmarshal(e.Result, &res); err != nil {
			return res, fmt.Errorf("decode ledger result: %w", err)
		}
		// The stored answer may hold a record of a matter the user has
		// since lost; never show it again.
		if res.Record != nil {
			ok, err := acc.visible(ctx, s, tx, p, res.Record.MatterID)
			if err != nil {
				return res, err
			}
			if !ok {
				res.Record = nil
			}
		}
		return res, nil
	case !errors.Is(err, store.ErrNotFound):
		return res, err
	case op.Resent:
		// Every answer stored at a sequence from LedgerThrough on is still
		// here, and an op is answered at a head no lower than the cursor
		// its sender held before sending it: from such a cursor, no answer
		// means never applied. From an earlier one it may have been
		// applied and its answer compacted; applying it again could make
		// it take effect twice.
		h, err := tx.Head(ctx)
		if err != nil {
			return res, err
		}
		if op.SentSince < h.LedgerThrough {
			return rejected(op, protocol.CodeOutcomeUnknown, msgUnknown), nil
		}
	}
	a := &applier{s: s, tx: tx, p: p, acc: acc, op: op}
	if res, err = a.run(ctx); err != nil {
		return res, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return res, fmt.Errorf("encode result: %w", err)
	}
	return res, tx.PutLedger(ctx, store.LedgerEntry{OpID: op.OpID, User: p.user, Device: p.device, At: s.now(), Result: b})
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

func (a *applier) create(ctx context.Context, col *model.Collection) (protocol.OpResult, error) {
	op := a.op
	fields, probs := col.Validate(op.Fields, true)
	if len(probs) > 0 {
		return invalid(op, probs), nil
	}
	matter := model.MatterOf(col.Name, op.RecordID, fields)
	old, err := a.tx.Record(ctx, op.RecordID)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return protocol.OpResult{}, err
	}
	if exists {
		// A create based on a tombstone's version restores it; any other
		// create of a taken id is refused, visible or not (ids are random
		// UUIDs, so this tells nothing a guess could not).
		seen, err := a.acc.visible(ctx, a.s, a.tx, a.p, old.MatterID)
		if err != nil {
			return protocol.OpResult{}, err
		}
		if seen && old.Collection == col.Name && op.BaseVersion == 0 {
			return alreadyHere(op, col, old, fields), nil
		}
		if !old.Deleted || !seen || old.Collection != col.Name || op.BaseVersion != old.Version {
			return rejected(op, protocol.CodeIDConflict, msgIDTaken), nil
		}
	}
	if col.Name != model.MatterCollection {
		ok, err := a.acc.usableMatter(ctx, a.s, a.tx, a.p, matter)
		if err != nil {
			return protocol.OpResult{}, err
		}
		if !ok {
			return rejected(op, protocol.CodeNotFound, msgNoMatter), nil
		}
	}
	seq, err := a.tx.NextSeq(ctx)
	if err != nil {
		return protocol.OpResult{}, err
	}
	now := a.s.now()
	rec := store.Record{ID: op.RecordID, Collection: col.Name, MatterID: matter, Version: 1, Seq: seq,
		Fields: fields, FieldVersions: map[string]int64{}, FieldChanges: map[string]store.FieldChange{},
		CreatedBy: a.p.user, CreatedAt: now, UpdatedBy: a.p.user, UpdatedAt: now}
	change := store.FieldChange{By: a.p.user, At: now}
	action, before := "create", ""
	switch {
	case exists:
		action, before = "restore", recordDigest(old)
		rec.Version, rec.CreatedBy, rec.CreatedAt = old.Version+1, old.CreatedBy, old.CreatedAt
		for name := range old.Fields {
			rec.FieldVersions[name] = rec.Version
			rec.FieldChanges[name] = change
		}
	case op.BaseVersion > 0:
		// The restore of a tombstone that compaction has removed since the
		// client saw it: the record comes back after the version it was
		// deleted at, so that no device that saw the tombstone takes the
		// restored record for older news and ignores it.
		action, rec.Version = "restore", op.BaseVersion+1
	}
	for name := range fields {
		rec.FieldVersions[name] = rec.Version
		rec.FieldChanges[name] = change
	}
	if err := a.tx.PutRecord(ctx, rec); err != nil {
		return protocol.OpResult{}, err
	}
	if col.Name == model.MatterCollection {
		added, err := a.tx.AddMember(ctx, a.p.user, rec.ID)
		if err != nil {
			return protocol.OpResult{}, err
		}
		// The creator's membership starts here; the event keeps its history
		// (see store.Reader.Removals).
		if added {
			if err := a.tx.AddAccessEvent(ctx, store.AccessEvent{Seq: seq, User: a.p.user, MatterID: rec.ID, Kind: store.AccessGrant, At: now}); err != nil {
				return protocol.OpResult{}, err
			}
		}
	}
	if exists && old.MatterID != matter {
		if err := a.moved(ctx, seq, old.MatterID, matter); err != nil {
			return protocol.OpResult{}, err
		}
	}
	if err := a.written(ctx, action, before, rec); err != nil {
		return protocol.OpResult{}, err
	}
	return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: toProtocol(rec)}, nil
}

// alreadyHere answers the create of a record the user can already see on
// the server — a backup imported on a new device, a create sent again by
// a device that lost track of it: nothing is written and the server's
// copy stands, applied when the create holds the same values, merged
// (Dropped naming the create's values that lost) when not.
func alreadyHere(op model.Op, col *model.Collection, old store.Record, fields model.Fields) protocol.OpResult {
	res := protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: toProtocol(old)}
	for i := range col.Fields {
		name := col.Fields[i].Name
		if old.Deleted && fields[name] != nil || !old.Deleted && !model.Equal(old.Fields[name], fields[name]) {
			res.Dropped = append(res.Dropped, name)
		}
	}
	if old.Deleted || len(res.Dropped) > 0 {
		res.Result, res.Message = model.ResultMerged, msgHadIt
	}
	if old.Deleted {
		res.Message = msgHadDeleted
	}
	return res
}

func (a *applier) update(ctx context.Context, col *model.Collection) (protocol.OpResult, error) {
	op := a.op
	cur, ok, err := a.current(ctx)
	if err != nil || !ok {
		return rejected(op, protocol.CodeNotFound, msgNoRecord), err
	}
	if cur.Deleted {
		// The change met is the delete: the record's last.
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: toProtocol(cur),
			ConflictFields: knownNames(col, op.Fields), Message: msgDeleted, ChangedBy: cur.UpdatedBy, ChangedAt: cur.UpdatedAt}, nil
	}
	if op.BaseVersion > cur.Version {
		return rejected(op, protocol.CodeValidation, fmt.Sprintf("The op is based on version %d but the record is at version %d.", op.BaseVersion, cur.Version)), nil
	}
	changes, probs := col.Validate(op.Fields, false)
	if len(probs) > 0 {
		return invalid(op, probs), nil
	}
	m := model.ThreeWay(col, cur.Version, cur.Fields, cur.FieldVersions, op.BaseVersion, changes)
	if len(m.Conflicts) > 0 {
		by, at := lastChange(cur, m.Conflicts)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: toProtocol(cur),
			ConflictFields: m.Conflicts, Message: msgConflict, ChangedBy: by, ChangedAt: at}, nil
	}
	result := model.ResultApplied
	if m.Merged {
		result = model.ResultMerged
	}
	newMatter := cur.MatterID
	if v, ok := m.Apply[model.MatterField]; ok && col.Name != model.MatterCollection {
		newMatter, _ = v.(string)
		ok, err := a.acc.usableMatter(ctx, a.s, a.tx, a.p, newMatter)
		if err != nil {
			return protocol.OpResult{}, err
		}
		if !ok {
			return rejected(op, protocol.CodeNotFound, msgNoMatter), nil
		}
	}
	if len(m.Apply) == 0 {
		// Nothing to write: every value is already the server's.
		return protocol.OpResult{OpID: op.OpID, Result: result, Record: toProtocol(cur), Dropped: m.Dropped}, nil
	}
	seq, err := a.tx.NextSeq(ctx)
	if err != nil {
		return protocol.OpResult{}, err
	}
	before := recordDigest(cur)
	rec := cur
	rec.Fields, rec.FieldVersions = maps.Clone(cur.Fields), maps.Clone(cur.FieldVersions)
	rec.FieldChanges = maps.Clone(cur.FieldChanges)
	if rec.FieldVersions == nil {
		rec.FieldVersions = map[string]int64{}
	}
	if rec.FieldChanges == nil {
		rec.FieldChanges = map[string]store.FieldChange{}
	}
	rec.Version, rec.Seq, rec.MatterID = cur.Version+1, seq, newMatter
	rec.UpdatedBy, rec.UpdatedAt = a.p.user, a.s.now()
	for name, v := range m.Apply {
		if v == nil {
			delete(rec.Fields, name)
		} else {
			rec.Fields[name] = v
		}
		rec.FieldVersions[name] = rec.Version
		rec.FieldChanges[name] = store.FieldChange{By: rec.UpdatedBy, At: rec.UpdatedAt}
	}
	if err := a.tx.PutRecord(ctx, rec); err != nil {
		return protocol.OpResult{}, err
	}
	if newMatter != cur.MatterID {
		if err := a.moved(ctx, seq, cur.MatterID, newMatter); err != nil {
			return protocol.OpResult{}, err
		}
	}
	if err := a.written(ctx, "update", before, rec); err != nil {
		return protocol.OpResult{}, err
	}
	return protocol.OpResult{OpID: op.OpID, Result: result, Record: toProtocol(rec), Dropped: m.Dropped}, nil
}

func (a *applier) delete(ctx context.Context) (protocol.OpResult, error) {
	op := a.op
	cur, ok, err := a.current(ctx)
	if err != nil || !ok {
		return rejected(op, protocol.CodeNotFound, msgNoRecord), err
	}
	if cur.Deleted {
		// Deleting what is already deleted changes nothing and takes no seq.
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: toProtocol(cur)}, nil
	}
	if op.BaseVersion > cur.Version {
		return rejected(op, protocol.CodeValidation, fmt.Sprintf("The op is based on version %d but the record is at version %d.", op.BaseVersion, cur.Version)), nil
	}
	var changed []string
	for name, v := range cur.FieldVersions {
		if v > op.BaseVersion {
			changed = append(changed, name)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		by, at := lastChange(cur, changed)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: toProtocol(cur),
			ConflictFields: changed, Message: msgDeleteEdit, ChangedBy: by, ChangedAt: at}, nil
	}
	if cur.Collection == model.MatterCollection {
		// A matter is never deleted out from under its records, whoever
		// added them since this device looked.
		holds, err := a.tx.MatterHolds(ctx, cur.ID)
		if err != nil {
			return protocol.OpResult{}, err
		}
		if len(holds) > 0 {
			return rejected(op, protocol.CodeMatterNotEmpty, matterHoldsMessage(holds)), nil
		}
	}
	seq, err := a.tx.NextSeq(ctx)
	if err != nil {
		return protocol.OpResult{}, err
	}
	before := recordDigest(cur)
	rec := cur
	rec.Deleted, rec.Version, rec.Seq = true, cur.Version+1, seq
	rec.UpdatedBy, rec.UpdatedAt = a.p.user, a.s.now()
	if err := a.tx.PutRecord(ctx, rec); err != nil {
		return protocol.OpResult{}, err
	}
	if err := a.written(ctx, "delete", before, rec); err != nil {
		return protocol.OpResult{}, err
	}
	return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: toProtocol(rec)}, nil
}

// matterHoldsMessage says what a matter still holds, for the refusal of
// its delete.
func matterHoldsMessage(holds map[string]int64) string {
	names := make([]string, 0, len(holds))
	for c := range holds {
		names = append(names, c)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, c := range names {
		parts[i] = fmt.Sprintf("%s: %d", strings.ReplaceAll(c, "_", " "), holds[c])
	}
	return "The matter still holds records (" + strings.Join(parts, ", ") + "); delete them first or with it."
}

// moved notes a record leaving a matter, so its members who cannot see
// the new one drop it, and pokes them.
func (a *applier) moved(ctx context.Context, seq int64, from, to string) error {
	if err := a.tx.AddMove(ctx, store.Move{Seq: seq, RecordID: a.op.RecordID, FromMatter: from, ToMatter: to, At: a.s.now()}); err != nil {
		return err
	}
	a.tx.Notify(store.Hint{Seq: seq, MatterID: from})
	return nil
}

// written audits a record change and hints its matter.
func (a *applier) written(ctx context.Context, action, before string, rec store.Record) error {
	a.tx.Notify(store.Hint{Seq: rec.Seq, MatterID: rec.MatterID})
	return a.s.audit(ctx, a.tx, &store.AuditEntry{Seq: rec.Seq, At: rec.UpdatedAt, Actor: a.p.user, Device: a.p.device,
		Action: action, Target: rec.Collection + "/" + rec.ID, Before: before, After: recordDigest(rec)})
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
