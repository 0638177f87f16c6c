package server

import (
	"context"
	"errors"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

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
	buried := ""
	if !exists {
		g, ok, err := a.grave(ctx, col)
		if err != nil || !ok {
			return rejected(op, protocol.CodeIDConflict, msgIDTaken), err
		}
		if g.ID != "" && op.BaseVersion == 0 {
			// A create of a compacted record, sent again or from an old
			// backup, is answered as on its tombstone: the delete stands.
			return alreadyHere(op, col, store.Record{ID: g.ID, Collection: g.Collection, MatterID: g.MatterID, Version: g.Version, Deleted: true}, fields), nil
		}
		buried = g.MatterID
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
	action, before, from := "create", "", buried
	switch {
	case exists:
		action, before, from = "restore", RecordDigest(old), old.MatterID
		rec.Version, rec.CreatedBy, rec.CreatedAt = old.Version+1, old.CreatedBy, old.CreatedAt
		for name := range old.Fields {
			rec.FieldVersions[name] = rec.Version
			rec.FieldChanges[name] = change
		}
	case op.BaseVersion > 0:
		// The restore of a tombstone that compaction has removed since the
		// client saw it: the record comes back after the version it was
		// deleted at, so that no device that saw the tombstone takes the
		// restored record for older news and ignores it. The client's base
		// may be older than the tombstone (an undo of a delete, another
		// device's change since): the audit log, which compaction never
		// touches, says how far the record's versions went.
		audited, err := a.tx.AuditedVersion(ctx, col.Name, op.RecordID)
		if err != nil {
			return protocol.OpResult{}, err
		}
		action, rec.Version = "restore", max(op.BaseVersion, audited)+1
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
			// An access change of theirs: their streams learn the matter.
			a.tx.Notify(store.Hint{Seq: seq, User: a.p.user})
		}
	}
	if from != "" && from != matter {
		if err := a.moved(ctx, seq, from, matter); err != nil {
			return protocol.OpResult{}, err
		}
	}
	if err := a.written(ctx, action, before, rec); err != nil {
		return protocol.OpResult{}, err
	}
	return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: toProtocol(rec)}, nil
}

// grave reads, for a create of an id the server holds no row of, the
// grave compaction kept of its tombstone: where the record was, at which
// version. It is zero when none was kept (never deleted here, or compacted
// before graves were), and nothing is known of the record. ok is false
// when the create must be refused as a create of a taken id would be: the
// grave is of another collection, or of a matter the user may not see —
// the rules of the tombstone itself.
func (a *applier) grave(ctx context.Context, col *model.Collection) (g store.Grave, ok bool, err error) {
	g, err = a.tx.Grave(ctx, a.op.RecordID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Grave{}, true, nil
	}
	if err != nil {
		return store.Grave{}, false, err
	}
	seen, err := a.acc.visible(ctx, a.s, a.tx, a.p, g.MatterID)
	if err != nil || !seen || g.Collection != col.Name {
		return store.Grave{}, false, err
	}
	return g, true, nil
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
