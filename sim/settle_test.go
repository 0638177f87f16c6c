package sim

import (
	"errors"
	"slices"
	"strings"

	"casefile/localdb"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

// resolveOne resolves one of c's open conflicts, as a person reviewing it
// would (final: keep the server's side); false when there is none.
func (w *world) resolveOne(c *client, final bool) bool {
	confs, err := c.db.Conflicts(w.ctx)
	w.must(c.name+": conflicts", err)
	if len(confs) == 0 {
		return false
	}
	// The database orders conflicts by time; the harness by its own order.
	slices.SortFunc(confs, func(a, b model.Conflict) int { return w.index[a.RecordID] - w.index[b.RecordID] })
	conf := confs[0]
	if !final {
		conf = confs[w.intn(len(confs))]
	}
	w.resolve(c, conf, w.resolution(c, conf, final))
	return true
}

// resolution draws a person's choice for a conflict.
func (w *world) resolution(c *client, conf model.Conflict, final bool) model.Resolution {
	if final {
		return model.Resolution{All: model.TakeTheirs}
	}
	if conf.Kind != model.ConflictEdit {
		if w.chance(0.5) {
			return model.Resolution{All: model.TakeMine}
		}
		return model.Resolution{All: model.TakeTheirs}
	}
	switch x := w.float(); {
	case x < 0.4:
		return model.Resolution{All: model.TakeMine}
	case x < 0.7:
		return model.Resolution{All: model.TakeTheirs}
	}
	r := model.Resolution{Fields: map[string]model.Choice{}}
	for _, fc := range conf.Fields {
		switch w.intn(3) {
		case 0:
			r.Fields[fc.Field] = model.Choice{Take: model.TakeMine}
		case 1:
			r.Fields[fc.Field] = model.Choice{Take: model.TakeTheirs}
		default:
			if slices.Contains(tracked[conf.Collection], fc.Field) {
				r.Fields[fc.Field] = model.Choice{Take: model.TakeValue, Value: w.value(c, fc.Field)}
			} else {
				r.Fields[fc.Field] = model.Choice{Take: model.TakeMine}
			}
		}
	}
	return r
}

// resolve applies a resolution and notes what the person took back: every
// value of theirs the resolution does not send.
func (w *world) resolve(c *client, conf model.Conflict, r model.Resolution) {
	col, _ := w.schema.Collection(conf.Collection)
	op, err := conf.Resolve(col, r, "preview")
	if err != nil {
		w.violate("%s: a valid resolution of %s was refused by the model: %v", c.name, conf.RecordID, err)
		return
	}
	if conf.Kind == model.ConflictEditDeleted && op != nil {
		w.checkRestore(c, conf, op)
	}
	w.action()
	if _, err := c.db.Resolve(w.ctx, conf.RecordID, r); err != nil {
		w.violate("%s: resolve %s: %v", c.name, conf.RecordID, err)
		return
	}
	w.stats.inc("resolutions", 1)
	w.tracef("%s resolve %s #%d all=%q fields=%d", c.name, conf.Kind, w.index[conf.RecordID], r.All, len(r.Fields))
	switch {
	case conf.Kind == model.ConflictDeleteEdit:
		if op == nil {
			w.withdraw(c, conf.RecordID, "delete", "", "")
		}
	default:
		for _, f := range sortedFields(conf.Mine) {
			s, ok := conf.Mine[f].(string)
			if ok && (op == nil || !model.Equal(op.Fields[f], s)) {
				w.withdraw(c, conf.RecordID, "field", f, s)
			}
		}
	}
	for _, f := range sortedFields(model.Fields(choiceValues(r))) {
		w.ack(c, entry{rec: conf.RecordID, kind: "field", field: f, value: r.Fields[f].Value.(string), unique: true})
	}
}

// choiceValues returns the typed values of a resolution.
func choiceValues(r model.Resolution) map[string]any {
	out := map[string]any{}
	for f, ch := range r.Fields {
		if ch.Take == model.TakeValue {
			out[f] = ch.Value
		}
	}
	return out
}

// settleFailed retries or discards one of c's failed ops (final: discard);
// false when there is none.
func (w *world) settleFailed(c *client, final bool) bool {
	ops, err := c.db.Outbox(w.ctx)
	w.must(c.name+": outbox", err)
	var failed []localdb.OutboxOp
	for _, o := range ops {
		if o.State == localdb.OpFailed {
			failed = append(failed, o)
		}
	}
	if len(failed) == 0 {
		return false
	}
	o := failed[0]
	if !final {
		o = failed[w.intn(len(failed))]
	}
	w.action()
	// An op whose outcome the server cannot tell may have been applied: a
	// person checks the record and, finding their change there or not
	// wanting it any more, discards it. Sending it again could apply it
	// twice, which the exactly-once check would (rightly) report.
	if !final && o.ErrorCode != protocol.CodeOutcomeUnknown && w.chance(0.5) {
		err := c.db.RetryOp(w.ctx, o.OpID)
		w.tracef("%s retry failed %s #%d (%s): %s", c.name, o.Kind, w.index[o.RecordID], o.ErrorCode, refusal(err))
		switch {
		case errors.Is(err, localdb.ErrRecordGone):
			// Kept after its matter was revoked, with the record gone: a
			// retry is refused and changes nothing.
			gone := o.ErrorCode == protocol.CodeAccessRevoked || o.ErrorCode == protocol.CodeGone
			if _, gerr := c.db.Get(w.ctx, o.RecordID); !gone || !errors.Is(gerr, localdb.ErrNotFound) {
				w.violate("%s: retry of %s op of #%d refused as gone (code %s, record: %v)", c.name, o.Kind, w.index[o.RecordID], o.ErrorCode, gerr)
			}
			if after, err := c.db.Outbox(w.ctx); err != nil || len(after) != len(ops) {
				w.violate("%s: a refused retry changed the outbox (%d ops, then %d; %v)", c.name, len(ops), len(after), err)
			}
			w.stats.inc("refused retries", 1)
		case err != nil:
			w.violate("%s: retry %s: %v", c.name, o.OpID, err)
		default:
			w.stats.inc("retries", 1)
		}
		return true
	}
	if err := c.db.DiscardOp(w.ctx, o.OpID); err != nil {
		w.violate("%s: discard %s: %v", c.name, o.OpID, err)
		return true
	}
	w.stats.inc("discards", 1)
	w.tracef("%s discard failed %s #%d (%s)", c.name, o.Kind, w.index[o.RecordID], o.ErrorCode)
	switch o.Kind {
	case model.OpCreate:
		// Discarding a create the server never had drops the record and
		// every later change of it.
		w.withdraw(c, o.RecordID, "*", "", "")
	case model.OpDelete:
		w.withdraw(c, o.RecordID, "delete", "", "")
	default:
		for _, f := range sortedFields(o.Fields) {
			if s, ok := o.Fields[f].(string); ok {
				w.withdraw(c, o.RecordID, "field", f, s)
			}
		}
	}
	return true
}

// settleClient resolves all of c's conflicts and settles all its failed
// ops, and returns how many there were.
func (w *world) settleClient(c *client, final bool) int {
	n := 0
	for n < 1000 && w.resolveOne(c, final) {
		n++
	}
	for n < 2000 && w.settleFailed(c, final) {
		n++
	}
	return n
}

// checkRestore checks that restoring an edited-but-deleted record brings
// back the fields the server last held, with only this device's own
// changes on top: a field the device did not change must come back as the
// tombstone has it, never as the device's older copy had it (which would
// undo another user's change made before the delete).
func (w *world) checkRestore(c *client, conf model.Conflict, op *model.Op) {
	var tomb store.Record
	found := false
	err := w.reader.Read(w.ctx, func(r store.Reader) error {
		rec, err := r.Record(w.ctx, conf.RecordID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		tomb, found = rec, err == nil
		return err
	})
	w.must("read the tombstone", err)
	w.stats.inc("contract: restores", 1)
	if !found || !tomb.Deleted || tomb.Version != conf.TheirsVersion {
		return // compacted, or changed since: the server answers the restore
	}
	base := model.Fields{}
	for _, fc := range conf.Fields {
		base[fc.Field] = fc.Base
	}
	others := false
	for _, f := range sortedFields(model.Fields(tomb.Fields)) {
		if _, mine := conf.Mine[f]; !mine && len(diffFields(w.schema, conf.Collection, model.Fields{f: tomb.Fields[f]}, model.Fields{f: base[f]})) > 0 {
			others = true
		}
	}
	if others {
		w.stats.inc("contract: restores over another user's change", 1)
	}
	restored, last := model.Fields{}, model.Fields{}
	for f, v := range op.Fields {
		if _, mine := conf.Mine[f]; !mine {
			restored[f] = v
		}
	}
	for f, v := range tomb.Fields {
		if _, mine := conf.Mine[f]; !mine {
			last[f] = v
		}
	}
	if d := diffFields(w.schema, conf.Collection, restored, last); len(d) > 0 {
		w.violate("%s: restoring #%d would set %s other than the server last held them, though this device did not change them",
			c.name, w.index[conf.RecordID], strings.Join(d, ", "))
	}
}
