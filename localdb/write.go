package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"casefile/model"
)

// actorLocal is the journal's actor for writes made on this device.
const actorLocal = "local"

// collection returns the named collection or a problem naming the known ones.
func (db *DB) collection(name string) (*model.Collection, error) {
	col, ok := db.schema.Collection(name)
	if !ok {
		return nil, model.Problems{{Collection: name,
			Message: "no such collection (collections: " + strings.Join(db.schema.Names(), ", ") + ")"}}
	}
	return col, nil
}

// refLookup finds the collection and deletion of a record by id.
type refLookup struct{ st *sql.Stmt }

func (l *refLookup) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return l.st.QueryRowContext(ctx, args...)
}

// rowQuerier runs the ref lookup: a transaction, or a prepared refLookup.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// refProblems checks that every ref field set in fields points to a live
// local record of the collection it names. known caches matters already
// checked in a batch.
func refProblems(ctx context.Context, q rowQuerier, col *model.Collection, fields model.Fields, known map[string]bool) (model.Problems, error) {
	var probs model.Problems
	for i := range col.Fields {
		f := &col.Fields[i]
		id, ok := fields[f.Name].(string)
		if f.Type != model.TypeRef || !ok || id == "" {
			continue
		}
		key := f.Ref + "/" + id
		if known != nil && known[key] {
			continue
		}
		var coll string
		var deleted bool
		err := q.QueryRowContext(ctx, "SELECT collection, deleted FROM records WHERE id = ?", id).Scan(&coll, &deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && (coll != f.Ref || deleted)):
			probs = append(probs, model.Problem{Collection: col.Name, Field: f.Name,
				Message: fmt.Sprintf("no %s with id %q on this device", f.Ref, id)})
		case err != nil:
			return nil, err
		case known != nil:
			known[key] = true
		}
	}
	return probs, nil
}

// Create writes a new record (id "" → a new UUIDv7) with its outbox op and journal entry.
func (db *DB) Create(ctx context.Context, collection, id string, fields model.Fields) (model.Record, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, fmt.Errorf("create %s: %w", collection, err)
	}
	defer db.leave()
	col, err := db.collection(collection)
	if err != nil {
		return model.Record{}, err
	}
	norm, probs := col.Validate(fields, true)
	if id == "" {
		id = model.NewID()
	} else if !model.ValidID(id) {
		probs = append(model.Problems{{Collection: collection, Field: "id", Message: fmt.Sprintf("not a valid id: %q", id)}}, probs...)
	}
	var rec model.Record
	err = db.tx(ctx, func(tx *sql.Tx) error {
		w, err := newImportWriter(ctx, tx, db)
		if err != nil {
			return err
		}
		defer w.close()
		refs, err := refProblems(ctx, w.refs, col, norm, nil)
		if err != nil {
			return err
		}
		if probs = append(probs, refs...); len(probs) > 0 {
			return probs
		}
		rec, err = w.write(ctx, col, id, norm, JournalCreate, "created")
		return err
	})
	if err != nil {
		return model.Record{}, wrapWrite("create "+collection, err)
	}
	return rec, nil
}

// wrapWrite adds context to storage errors; a bad input's problems come back
// as they are, one clear sentence each.
func wrapWrite(what string, err error) error {
	var probs model.Problems
	if errors.As(err, &probs) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Update changes fields of a record; nil values clear fields. Only fields
// whose value actually changes are queued.
func (db *DB) Update(ctx context.Context, id string, changes model.Fields) (model.Record, error) {
	return db.update(ctx, id, changes, nil)
}

// ChangedError refuses an edit of values that changed after the person
// saw them: a change of another device's pulled while a form was open.
// Saving the form's values would replace that change unseen.
type ChangedError struct {
	Fields []string     // the edited fields that changed meanwhile, sorted
	Now    model.Fields // their values now
}

func (e *ChangedError) Error() string {
	return "changed on another device while it was being edited: " + strings.Join(e.Fields, ", ")
}

// UpdateSeen is Update for an edit made on the values seen: for each
// changed field, the value the person started from. If any of them is no
// longer the record's, nothing is written and a *ChangedError says which.
func (db *DB) UpdateSeen(ctx context.Context, id string, changes, seen model.Fields) (model.Record, error) {
	if seen == nil {
		seen = model.Fields{}
	}
	return db.update(ctx, id, changes, seen)
}

func (db *DB) update(ctx context.Context, id string, changes, seen model.Fields) (model.Record, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, fmt.Errorf("update %s: %w", id, err)
	}
	defer db.leave()
	var out model.Record
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rec, err := db.getRow(ctx, tx, id)
		if err != nil {
			return err
		}
		col, err := db.collection(rec.collection)
		if err != nil {
			return err
		}
		if rec.state == model.StateConflict {
			return ErrInConflict
		}
		if rec.deleted {
			return ErrDeleted
		}
		if seen != nil {
			changed := &ChangedError{Now: model.Fields{}}
			for f := range changes {
				if !model.Equal(rec.fields[f], seen[f]) {
					changed.Fields, changed.Now[f] = append(changed.Fields, f), rec.fields[f]
				}
			}
			if len(changed.Fields) > 0 {
				slices.Sort(changed.Fields)
				return changed
			}
		}
		after, e, err := db.updateRow(ctx, tx, col, rec, changes)
		if err != nil || e == nil {
			out = after.record()
			return err
		}
		out = after.record()
		return db.journal(ctx, tx, *e)
	})
	if err != nil {
		return model.Record{}, wrapWrite("update "+id, err)
	}
	return out, nil
}

// updateRow validates changes of rec and queues those that change a value,
// in tx. It returns the record as it now is and the journal entry the
// change wants (nil when nothing changed), for the caller to write.
func (db *DB) updateRow(ctx context.Context, tx *sql.Tx, col *model.Collection, rec recordRow, changes model.Fields) (recordRow, *JournalEntry, error) {
	norm, probs := col.Validate(changes, false)
	probs = append(probs, col.FixedProblems(rec.fields, norm)...)
	refs, err := refProblems(ctx, tx, col, norm, nil)
	if err != nil {
		return rec, nil, err
	}
	if probs = append(probs, refs...); len(probs) > 0 {
		return rec, nil, probs
	}
	changed, before := model.Fields{}, model.Fields{}
	for k, v := range norm {
		if !model.Equal(rec.fields[k], v) || (rec.deleted && v != nil) {
			changed[k], before[k] = v, rec.fields[k]
		}
	}
	if len(changed) == 0 {
		return rec, nil, nil
	}
	now := nanos(db.now())
	op, how, err := db.enqueue(ctx, tx, rec, model.OpUpdate, changed, before, now)
	if err != nil {
		return rec, nil, err
	}
	after, _, err := db.recompute(ctx, tx, rec.id, now)
	if err != nil {
		return rec, nil, err
	}
	return after, &JournalEntry{Actor: actorLocal, Kind: JournalUpdate, RecordID: rec.id,
		Collection: rec.collection, OpID: op.OpID, Summary: "changed " + fieldList(changed) + queueNote(how),
		Before: before, After: changed, Version: rec.version}, nil
}

// Delete tombstones a record until the server acknowledges the delete. A
// record the server never had vanishes at once, with its unsent op.
func (db *DB) Delete(ctx context.Context, id string) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	defer db.leave()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rec, err := db.getRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := db.deletable(ctx, tx, rec); err != nil {
			return err
		}
		if rec.collection == model.MatterCollection {
			holds, err := matterHolds(ctx, tx, id)
			if err != nil {
				return err
			}
			if len(holds) > 0 {
				return &MatterHoldsError{Counts: holds}
			}
		}
		// The files attached to a record go with it, journaled just
		// before it (as a matter's records before the matter), so that
		// one undo brings them back together.
		if rec.collection != model.MatterCollection && rec.collection != model.AttachmentCollection {
			files, err := db.attachedTo(ctx, tx, id)
			if err != nil {
				return err
			}
			for _, fid := range files {
				f, err := db.getRow(ctx, tx, fid)
				if err != nil {
					return err
				}
				if err := db.deletable(ctx, tx, f); err != nil {
					return fmt.Errorf("its attached file %s: %w", fid, err)
				}
				if err := db.deleteRow(ctx, tx, f, undoSummaryWithRecord); err != nil {
					return fmt.Errorf("its attached file %s: %w", fid, err)
				}
			}
		}
		return db.deleteRow(ctx, tx, rec, "deleted")
	})
	if err != nil {
		return wrapWrite("delete "+id, err)
	}
	return nil
}

// attachedTo lists the live attachments whose record is recordID, by id.
func (db *DB) attachedTo(ctx context.Context, tx *sql.Tx, recordID string) ([]string, error) {
	// #nosec G202 -- the fields expression is built from constant SQL; values are bound.
	rows, err := tx.QueryContext(ctx, `SELECT r.id FROM records r WHERE r.collection = ? AND r.deleted = 0
		AND json_extract(`+db.sqlRecordFields("r", "fields")+`, '$.record_id') = ? ORDER BY r.id`, model.AttachmentCollection, recordID)
	if err != nil {
		return nil, fmt.Errorf("list the files attached to %s: %w", recordID, mapErr(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err())
}

// deleteRow queues the delete of a record in tx and journals it with what
// as its summary ("deleted", "deleted with its matter").
func (db *DB) deleteRow(ctx context.Context, tx *sql.Tx, rec recordRow, what string) error {
	e, err := db.queueDelete(ctx, tx, rec, what)
	if err != nil {
		return err
	}
	return db.journal(ctx, tx, e)
}

// queueDelete queues the delete of a record in tx and returns the journal
// entry it wants, for the caller to write.
func (db *DB) queueDelete(ctx context.Context, tx *sql.Tx, rec recordRow, what string) (JournalEntry, error) {
	if err := db.deletable(ctx, tx, rec); err != nil {
		return JournalEntry{}, err
	}
	id := rec.id
	now := nanos(db.now())
	op, how, err := db.enqueue(ctx, tx, rec, model.OpDelete, nil, nil, now)
	if err != nil {
		return JournalEntry{}, err
	}
	_, exists, err := db.recompute(ctx, tx, id, now)
	if err != nil {
		return JournalEntry{}, err
	}
	summary := what + queueNote(how)
	if !exists {
		summary = what + "; the server never had it, so it is gone with its unsent changes"
	}
	return JournalEntry{Actor: actorLocal, Kind: JournalDelete, RecordID: id,
		Collection: rec.collection, OpID: op.OpID, Summary: summary, Before: rec.fields, Version: rec.version}, nil
}

// deletable refuses the delete of a record in conflict or already deleted.
func (db *DB) deletable(ctx context.Context, tx *sql.Tx, rec recordRow) error {
	if rec.state == model.StateConflict {
		return ErrInConflict
	}
	if rec.deleted {
		return ErrDeleted
	}
	return nil
}

// queueNote tells the journal's reader how a change joined the queue.
func queueNote(how coalesced) string {
	switch how {
	case foldedIn:
		return " (joined the unsent change)"
	case refolded:
		return " (joined the refused change, which will be sent again)"
	case behindRefused:
		return " (after the refused create, which will be sent again)"
	}
	return ""
}

// fieldList names fields for a journal summary.
func fieldList(f model.Fields) string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
