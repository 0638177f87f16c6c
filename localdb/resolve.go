package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"casefile/model"
)

// ErrSending refuses to discard an op while it is being sent.
var ErrSending = errors.New("the change is being sent right now; try again when this sync ends")

// ErrRecordGone refuses to retry a failed op whose record is no longer on
// this device (it went with a matter whose access was revoked): sent again,
// it could only be refused again. Exporting or discarding it still works,
// and it can be retried once a pull brings the record back.
var ErrRecordGone = errors.New("its record is no longer on this device (access to its matter was revoked); export or discard the change")

// Resolve turns a conflict resolution into a new op and clears the conflict.
// The new op takes the conflicting op's place in the queue and is based on
// the server version the conflict was reviewed against; a resolution that
// keeps the server's state queues nothing and the record shows the server's copy.
func (db *DB) Resolve(ctx context.Context, recordID string, r model.Resolution) (model.Record, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, fmt.Errorf("resolve %s: %w", recordID, err)
	}
	defer db.leave()
	var out model.Record
	err := db.tx(ctx, func(tx *sql.Tx) error {
		c, err := db.getConflict(ctx, tx, recordID)
		if err != nil {
			return err
		}
		col, err := db.collection(c.Collection)
		if err != nil {
			return err
		}
		op, err := c.Resolve(col, r, model.NewID())
		if err != nil {
			return err
		}
		old, err := db.getOp(ctx, tx, c.OpID)
		if err != nil && !errors.Is(err, ErrNoOp) {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM conflicts WHERE record_id = ?", recordID); err != nil {
			return err
		}
		if old.seq != 0 {
			if err := deleteOp(ctx, tx, old.seq); err != nil {
				return err
			}
		}
		now := nanos(db.now())
		summary := "resolved the conflict: kept the server's version"
		if op != nil {
			o := opRow{seq: old.seq, Op: *op, state: OpPending, createdAt: now, updatedAt: now}
			if op.Kind == model.OpUpdate {
				// Each field's base is now the server's value it was reviewed against.
				o.baseValues = model.Fields{}
				for k := range op.Fields {
					o.baseValues[k] = c.Theirs[k]
				}
			}
			if err := db.insertOp(ctx, tx, o); err != nil {
				return err
			}
			switch op.Kind {
			case model.OpUpdate:
				summary = "resolved the conflict: will send the change of " + fieldList(op.Fields)
			case model.OpDelete:
				summary = "resolved the conflict: will send the delete"
			default:
				summary = "resolved the conflict: will send the record again"
			}
		}
		if err := db.rebaseBehindResolution(ctx, tx, c, op); err != nil {
			return err
		}
		rec, _, err := db.recompute(ctx, tx, recordID, now)
		if err != nil {
			return err
		}
		out = rec.record()
		e := JournalEntry{Actor: actorLocal, Kind: JournalResolve, RecordID: recordID, Collection: c.Collection,
			OpID: c.OpID, Summary: summary, Before: c.Mine}
		if op != nil {
			e.OpID, e.After = op.OpID, op.Fields
		}
		return db.journal(ctx, tx, e)
	})
	if err != nil {
		return model.Record{}, wrapWrite("resolve "+recordID, err)
	}
	return out, nil
}

// rebaseBehindResolution moves the ops queued behind a resolved conflict
// onto the version the resolution was reviewed against:
//   - updates, but only those whose every field still has, after the
//     resolution, the value their author saw; the others keep their base
//     and meet the server's changes as a conflict instead of overwriting
//     them unseen;
//   - when the resolution sends the delete again, the restores made on top
//     of it (an undo of the delete while it was on the server: a create on
//     the delete's base). They move with the delete, and once it is
//     applied, onto its version (rebase), so that the server restores the
//     record; left behind, the server would take them for the create of a
//     record it already has and keep its tombstone.
func (db *DB) rebaseBehindResolution(ctx context.Context, tx *sql.Tx, c model.Conflict, op *model.Op) error {
	later, err := db.queryOps(ctx, tx, "WHERE record_id = ? AND kind IN (?, ?) AND state != ? AND base_version < ? ORDER BY seq",
		c.RecordID, model.OpUpdate, model.OpCreate, OpConflict, c.TheirsVersion)
	if err != nil {
		return err
	}
	expected := overlay(c.Theirs.Clone(), nil)
	if op != nil {
		expected = overlay(expected, op.Fields)
	}
	for _, o := range later {
		move := true
		switch o.Kind {
		case model.OpCreate:
			move = op != nil && op.Kind == model.OpDelete && o.BaseVersion == c.BaseVersion
		default:
			for f := range o.Fields {
				if seen, ok := o.baseValues[f]; !ok || !model.Equal(seen, expected[f]) {
					move = false
					break
				}
			}
		}
		if !move {
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET base_version = ? WHERE seq = ?", c.TheirsVersion, o.seq); err != nil {
			return err
		}
	}
	return nil
}

// RetryOp makes a failed or retrying op due now. A failed op goes back to
// the queue under a new op id: the server keeps its answer to the old id.
// A failed op whose record is gone is refused with ErrRecordGone.
func (db *DB) RetryOp(ctx context.Context, opID string) error {
	return db.onOp(ctx, "retry", opID, func(tx *sql.Tx, op opRow) error {
		_, err := db.retry(ctx, tx, op)
		return err
	})
}

// onOp runs fn on the queued op opID in one write transaction; an error,
// the op not being queued included, is wrapped as "verb opID: …".
func (db *DB) onOp(ctx context.Context, verb, opID string, fn func(tx *sql.Tx, op opRow) error) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("%s %s: %w", verb, opID, err)
	}
	defer db.leave()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		op, err := db.getOp(ctx, tx, opID)
		if err != nil {
			return err
		}
		return fn(tx, op)
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, opID, err)
	}
	return nil
}

// RetryAll makes every failed or retrying op due now and returns how many;
// failed ops whose record is gone stay as they are.
func (db *DB) RetryAll(ctx context.Context) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("retry all: %w", err)
	}
	defer db.leave()
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ops, err := db.queryOps(ctx, tx, "WHERE state IN (?, ?) ORDER BY seq", OpFailed, OpRetrying)
		if err != nil {
			return err
		}
		for _, op := range ops {
			ok, err := db.retry(ctx, tx, op)
			if errors.Is(err, ErrRecordGone) {
				continue
			}
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retry all: %w", err)
	}
	return n, nil
}

// retry puts one op back in the queue, due now, and reports whether it did.
func (db *DB) retry(ctx context.Context, tx *sql.Tx, op opRow) (bool, error) {
	now := nanos(db.now())
	switch op.state {
	case OpRetrying:
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET next_attempt = 0, updated_at = ? WHERE seq = ?", now, op.seq); err != nil {
			return false, err
		}
		return true, nil
	case OpFailed:
		// Its error code (access_revoked) is what tells Doctor why the
		// record is missing; keep it until the record is back.
		if _, err := db.getRow(ctx, tx, op.RecordID); isNotFound(err) {
			return false, ErrRecordGone
		} else if err != nil {
			return false, err
		}
		if op.heldBack() {
			op.state, op.nextAttempt, op.updatedAt = OpRetrying, 0, now
			op.lastError, op.errorCode = "", ""
			return true, db.requeue(ctx, tx, op,
				fmt.Sprintf("the %s will be sent again as it was: it may have reached the server before the record left this device", op.Kind))
		}
		oldID := op.OpID
		resetFailed(&op, now)
		return true, db.requeue(ctx, tx, op, fmt.Sprintf("the refused %s will be sent again as a new change (it was %s)", op.Kind, oldID))
	case OpConflict:
		return false, ErrInConflict
	}
	return false, nil // pending or syncing: already on its way
}

// requeue saves a failed op made due again, recomputes its record's state
// and journals the retry with summary.
func (db *DB) requeue(ctx context.Context, tx *sql.Tx, op opRow, summary string) error {
	if err := db.saveOp(ctx, tx, op); err != nil {
		return err
	}
	if _, _, err := db.recompute(ctx, tx, op.RecordID, 0); err != nil {
		return err
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalRetry, RecordID: op.RecordID,
		Collection: op.Collection, OpID: op.OpID, Summary: summary, After: op.Fields})
}

// DiscardOp drops a queued op (the journal keeps it); its record falls back to the server's copy.
// Discarding the create of a record the server never had drops the record
// and every later op of it.
func (db *DB) DiscardOp(ctx context.Context, opID string) error {
	return db.onOp(ctx, "discard", opID, func(tx *sql.Tx, op opRow) error {
		if op.state == OpSyncing {
			return ErrSending
		}
		drop := []opRow{op}
		rec, err := db.getRow(ctx, tx, op.RecordID)
		missing := isNotFound(err)
		if err != nil && !missing {
			return err
		}
		if op.Kind == model.OpCreate && (missing || rec.base == nil) {
			later, err := db.queryOps(ctx, tx, "WHERE record_id = ? AND seq > ? ORDER BY seq", op.RecordID, op.seq)
			if err != nil {
				return err
			}
			for _, l := range later {
				if l.state == OpSyncing {
					return ErrSending
				}
			}
			drop = append(drop, later...)
		}
		if err := db.forgetDiscarded(ctx, tx, op); err != nil {
			return err
		}
		for _, d := range drop {
			if err := deleteOp(ctx, tx, d.seq); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM conflicts WHERE op_id = ?", d.OpID); err != nil {
				return err
			}
			summary := fmt.Sprintf("discarded the unsent %s", d.Kind)
			if len(d.Fields) > 0 && d.Kind == model.OpUpdate {
				summary += " of " + fieldList(d.Fields)
			}
			if d.lastError != "" {
				summary += " (it had failed: " + d.lastError + ")"
			}
			if err := db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalDiscard, RecordID: d.RecordID,
				Collection: d.Collection, OpID: d.OpID, Summary: summary, Before: d.baseValues, After: d.Fields}); err != nil {
				return err
			}
		}
		if missing {
			// Its record went with a revoked matter: nothing to show, and
			// what the op held leaves the journal with it.
			return db.redactLeft(ctx, tx, op.RecordID)
		}
		_, _, err = db.recompute(ctx, tx, op.RecordID, 0)
		return err
	})
}

// forgetDiscarded fixes the base values of the ops queued behind a discarded
// update: where one replaced the discarded op's value of a field, it now
// replaces what the discarded op had replaced, since that value is back.
func (db *DB) forgetDiscarded(ctx context.Context, tx *sql.Tx, gone opRow) error {
	if gone.Kind != model.OpUpdate {
		return nil
	}
	later, err := db.queryOps(ctx, tx, "WHERE record_id = ? AND seq > ? ORDER BY seq", gone.RecordID, gone.seq)
	if err != nil {
		return err
	}
	for _, o := range later {
		changed := false
		for f, v := range gone.Fields {
			if seen, ok := o.baseValues[f]; ok && model.Equal(seen, v) {
				o.baseValues[f] = gone.baseValues[f]
				changed = true
			}
		}
		if changed {
			if err := db.saveOp(ctx, tx, o); err != nil {
				return err
			}
		}
	}
	return nil
}
