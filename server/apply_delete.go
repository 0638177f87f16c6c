package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"casefile/model"
	"casefile/protocol"
)

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
	before := RecordDigest(cur)
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
