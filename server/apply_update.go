package server

import (
	"context"
	"fmt"
	"maps"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

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
	probs = append(probs, col.FixedProblems(cur.Fields, changes)...)
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
	before := RecordDigest(cur)
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
