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

// ErrNothingToUndo says this device has no local change left to take back.
var ErrNothingToUndo = errors.New("nothing to undo: every change made on this device has been taken back")

// UndoAction says what an undo did to take a change back.
type UndoAction string

// The undo actions.
const (
	UndoDeleted  UndoAction = "deleted"  // a create taken back: the record is deleted
	UndoReverted UndoAction = "reverted" // an edit taken back: its fields have their values before it
	UndoRestored UndoAction = "restored" // a delete taken back: the record is back
	// UndoNothing: the change had no effect left to take back (its record
	// was deleted since, or is already back, or every field it changed was
	// changed again by someone else); the undo only marks it taken back.
	UndoNothing UndoAction = "nothing"
)

// Undone says what Undo took back.
type Undone struct {
	// Change is the journal entry of the local change taken back.
	Change JournalEntry `json:"change"`
	Action UndoAction   `json:"action"`
	// Record is the record as it now is (Deleted after an undone create;
	// its last known fields when it is no longer on the device).
	Record model.Record `json:"record"`
	// Fields an undone edit set back; Kept those it left alone because
	// someone else changed them since.
	Fields []string `json:"fields,omitempty"`
	Kept   []string `json:"kept,omitempty"`
	// Also counts records restored with their matter (a cascade delete
	// is taken back as one change), or files with their record;
	// Restored names them.
	Also     int      `json:"also,omitempty"`
	Restored []string `json:"restored,omitempty"`
	// OutOfSight says an undone delete's record left the device because
	// the server stopped showing it to this user (its matter lost, or a
	// full resync no longer showed it): nothing was taken back.
	OutOfSight bool `json:"out_of_sight,omitempty"`
	// OtherCollection is the collection of the record its id holds now,
	// when the change's record left the device and one of another
	// collection came under the id since: nothing was taken back.
	OtherCollection string `json:"other_collection,omitempty"`
}

// undoSummaryCascade starts the journal summary of a record deleted with its
// matter (DeleteCascade); an undo of the matter's delete restores them too.
const undoSummaryCascade = "deleted with its matter"

// undoSummaryWithRecord is the journal summary of a file deleted with the
// record it is attached to (Delete); an undo of the record's delete
// restores them too.
const undoSummaryWithRecord = "deleted with its record"

// Undo takes back the newest local change not yet taken back — a create,
// an edit or a delete made on this device — by queueing a new op that
// syncs like any edit, in one transaction with its journal entry. A second
// Undo walks further back; an undo is not itself undone (there is no
// redo). An edit is taken back field by field, and only where the field
// still holds the value the edit gave it: a field someone else changed
// since keeps their value (Kept). An undo whose op meets a newer server
// change follows the usual merge and conflict rules.
func (db *DB) Undo(ctx context.Context) (Undone, error) {
	if err := db.enter(); err != nil {
		return Undone{}, fmt.Errorf("undo: %w", err)
	}
	defer db.leave()
	var out Undone
	err := db.tx(ctx, func(tx *sql.Tx) error {
		target, cascade, err := db.undoTarget(ctx, tx)
		if err != nil {
			return err
		}
		out, err = db.undoOne(ctx, tx, target)
		if err != nil {
			return err
		}
		for _, e := range cascade {
			r, err := db.undoOne(ctx, tx, e)
			if err != nil {
				return fmt.Errorf("restore %s %s with %s %s: %w", e.Collection, e.RecordID, target.Collection, target.RecordID, err)
			}
			if r.Action == UndoRestored {
				out.Also++
				out.Restored = append(out.Restored, e.RecordID)
			}
		}
		if out.Action == UndoNothing && len(out.Restored) > 0 {
			// The matter (or the record a file was deleted with) was
			// back already; what was deleted with it comes back now.
			out.Action = UndoRestored
		}
		return nil
	})
	if err != nil {
		// out names the change that could not be taken back.
		return out, wrapWrite("undo", err)
	}
	return out, nil
}

// undoTarget finds the newest local change no undo has taken back, and
// for a matter's cascade delete the records deleted with it just before.
func (db *DB) undoTarget(ctx context.Context, tx *sql.Tx) (JournalEntry, []JournalEntry, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+journalCols+" FROM journal WHERE actor = ? AND kind IN (?, ?, ?, ?, ?) ORDER BY seq DESC",
		actorLocal, JournalCreate, JournalUpdate, JournalDelete, JournalUndo, JournalRetry)
	if err != nil {
		return JournalEntry{}, nil, err
	}
	defer rows.Close()
	undone := map[int64]bool{}
	var target *JournalEntry
	var cascade []JournalEntry
	var next int64 // the seq the cascade's next entry must have
	for rows.Next() {
		e, err := db.scanJournal(rows)
		if err != nil {
			return JournalEntry{}, nil, err
		}
		if e.Kind == JournalUndo {
			undone[e.Undoes] = true
			continue
		}
		if target == nil {
			if undone[e.Seq] || e.Kind == JournalRetry {
				continue
			}
			target, next = &e, e.Seq-1
			if e.Kind != JournalDelete {
				break
			}
			continue
		}
		// The records a cascade deleted are journaled just before their
		// matter, and the files deleted with their record just before it,
		// in the same transaction: contiguous seqs. A refused create a
		// backup holds, put back in the queue ahead of its delete, has its
		// retry journaled just before the delete's entry (enqueue's
		// resendsFirst): part of the cascade's run, not its end.
		if e.Kind == JournalRetry && e.Seq == next {
			after := target.RecordID // the record whose entry follows it
			if len(cascade) > 0 {
				after = cascade[len(cascade)-1].RecordID
			}
			if e.RecordID == after {
				next--
				continue
			}
		}
		with := undoSummaryWithRecord
		if target.Collection == model.MatterCollection {
			with = undoSummaryCascade
		}
		if e.Seq != next || e.Kind != JournalDelete || undone[e.Seq] || !strings.HasPrefix(e.Summary, with) {
			break
		}
		cascade = append(cascade, e)
		next--
	}
	if err := rows.Err(); err != nil {
		return JournalEntry{}, nil, err
	}
	if target == nil {
		return JournalEntry{}, nil, ErrNothingToUndo
	}
	return *target, cascade, nil
}

// undoOne takes back one journaled change in tx and journals the undo.
func (db *DB) undoOne(ctx context.Context, tx *sql.Tx, change JournalEntry) (Undone, error) {
	out := Undone{Change: change, Action: UndoNothing}
	col, err := db.collection(change.Collection)
	if err != nil {
		return out, err
	}
	rec, err := db.getRow(ctx, tx, change.RecordID)
	gone := errors.Is(err, ErrNotFound)
	if err != nil && !gone {
		return out, err
	}
	last := change.After
	if change.Kind == JournalDelete || len(last) == 0 {
		last = change.Before
	}
	out.Record = model.Record{ID: change.RecordID, Collection: change.Collection, Fields: last, Deleted: true}
	if !gone && rec.collection != change.Collection {
		// The record left the device and a record of another collection
		// came under its id since (a backup imported): nothing here is
		// the change's to take back, and that record is not to be touched.
		out.OtherCollection = rec.collection
		what := map[JournalKind]string{JournalCreate: "create", JournalUpdate: "edit", JournalDelete: "delete"}[change.Kind]
		return out, db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalUndo, RecordID: change.RecordID,
			Collection: change.Collection, Undoes: change.Seq,
			Summary: "undid the " + what + ": nothing to take back, its id now holds a " + rec.collection})
	}
	if !gone {
		out.Record = rec.record()
	}
	if !gone && rec.state == model.StateConflict {
		return out, ErrInConflict
	}
	undo := JournalEntry{Actor: actorLocal, Kind: JournalUndo, RecordID: change.RecordID, Collection: change.Collection,
		Undoes: change.Seq}
	live := !gone && !rec.deleted
	switch change.Kind {
	case JournalCreate:
		if !live {
			undo.Summary = "undid the create: nothing to take back, the record was deleted since"
			break
		}
		if rec.collection == model.MatterCollection {
			holds, err := matterHolds(ctx, tx, rec.id)
			if err != nil {
				return out, err
			}
			if len(holds) > 0 {
				return out, &MatterHoldsError{Counts: holds}
			}
		}
		e, err := db.queueDelete(ctx, tx, rec, "undid the create: deleted")
		if err != nil {
			return out, err
		}
		undo.OpID, undo.Summary, undo.Before, undo.Version = e.OpID, e.Summary, rec.fields, rec.version
		out.Action, out.Record.Deleted = UndoDeleted, true
	case JournalUpdate:
		if !live {
			// An edit of a record that left out of sight has no values
			// left to name (redactLeft).
			undo.Summary = "undid the edit: nothing to take back, the record was deleted since"
			if len(change.After) > 0 {
				undo.Summary = "undid the edit of " + fieldList(change.After) + ": nothing to take back, the record was deleted since"
			}
			break
		}
		back := model.Fields{}
		for f, v := range change.After {
			if model.Equal(rec.fields[f], v) {
				back[f] = change.Before[f]
				out.Fields = append(out.Fields, f)
			} else {
				out.Kept = append(out.Kept, f)
			}
		}
		slices.Sort(out.Fields)
		slices.Sort(out.Kept)
		after, e, err := db.updateRow(ctx, tx, col, rec, back)
		if err != nil {
			return out, err
		}
		out.Record = after.record()
		undo.Summary = "undid the edit of " + fieldList(change.After)
		if e != nil {
			undo.OpID, undo.Before, undo.After, undo.Version = e.OpID, e.Before, e.After, e.Version
			undo.Summary = "undid the edit: set back " + strings.Join(out.Fields, ", ")
			out.Action = UndoReverted
		}
		if len(out.Kept) > 0 {
			undo.Summary += "; kept " + strings.Join(out.Kept, ", ") + ", changed since"
		}
	case JournalDelete:
		if live {
			undo.Summary = "undid the delete: nothing to take back, the record is back already"
			break
		}
		var left *goneCopy
		if gone {
			var collection string
			if left, collection, err = db.leftCopy(ctx, tx, change); err != nil {
				return out, err
			}
			if collection != change.Collection {
				// A record of another collection came under its id (a
				// backup imported) and left since: the id is that one's
				// on the server, and nothing here is the change's.
				out.OtherCollection = collection
				undo.Summary = "undid the delete: nothing to take back, its id last held a " + collection
				break
			}
		}
		if left != nil && left.outOfSight {
			// The server holds the record where this user no longer sees
			// it: there is nothing here to bring back, and a create would
			// only be refused.
			out.OutOfSight = true
			undo.Summary = "undid the delete: nothing to take back, the record left this device when the server stopped showing it to you"
			break
		}
		r, op, err := db.restore(ctx, tx, col, change, rec, left)
		if err != nil {
			return out, err
		}
		undo.OpID, undo.After, undo.Version, undo.Summary = op.OpID, op.Fields, op.BaseVersion, "undid the delete: restored"
		out.Action, out.Record = UndoRestored, r.record()
	default:
		return out, fmt.Errorf("a %s cannot be undone", change.Kind)
	}
	return out, db.journal(ctx, tx, undo)
}

// restore queues the create that brings a deleted record back with its
// fields before the delete, under its own id: a new op behind any queued
// ones, never folded into them. While the record's tombstone is still
// here the create is based on its version (the syncer's rebase moves it
// onto the version the delete gets). After the record left the device
// its tombstone comes back as the record left it (left), and the create
// is based on its version, which the server takes as a restore (0: the
// server never had it).
func (db *DB) restore(ctx context.Context, tx *sql.Tx, col *model.Collection, change JournalEntry, rec recordRow, left *goneCopy) (recordRow, opRow, error) {
	fields, probs := col.Validate(change.Before, true)
	refs, err := refProblems(ctx, tx, col, fields, nil)
	if err != nil {
		return rec, opRow{}, err
	}
	if probs = append(probs, refs...); len(probs) > 0 {
		return rec, opRow{}, probs
	}
	now := nanos(db.now())
	if left != nil {
		version := left.version
		var base any
		if version > 0 {
			// The server's copy the record left with becomes the
			// tombstone's base, as a pulled tombstone with queued ops
			// has; the fields before the delete stand in for one not known.
			bj := left.fieldsJSON
			if bj == "" {
				var err error
				if bj, err = encodeFields(change.Before); err != nil {
					return rec, opRow{}, err
				}
			}
			base = db.sealText(bj, recordPlace("base_fields", col.Name, change.RecordID))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO records (id, collection, matter_id, fields, base_fields, version, base_deleted, deleted, state, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, ?)`, change.RecordID, col.Name, model.MatterOf(col.Name, change.RecordID, fields),
			db.sealText("{}", recordPlace("fields", col.Name, change.RecordID)), base, version, model.StatePending, now); err != nil {
			return rec, opRow{}, err
		}
		rec.version = version
	}
	o := opRow{
		Op: model.Op{OpID: model.NewID(), RecordID: change.RecordID, Collection: col.Name, Kind: model.OpCreate,
			Fields: fields, BaseVersion: rec.version},
		state:     OpPending,
		createdAt: now,
		updatedAt: now,
	}
	if err := db.insertOp(ctx, tx, o); err != nil {
		return rec, opRow{}, err
	}
	after, _, err := db.recompute(ctx, tx, change.RecordID, now)
	return after, o, err
}

// Sentence says what an undo did, for people: "Undid the edit of note
// “Call the client”: title set back." The title is the record's own text
// (callers print it through safetext).
func (u Undone) Sentence(schema *model.Schema) string {
	noun := strings.ReplaceAll(u.Change.Collection, "_", " ")
	title := u.Record.ID
	if col, ok := schema.Collection(u.Change.Collection); ok {
		title = u.Record.Title(col)
	}
	what := map[JournalKind]string{JournalCreate: "the creation", JournalUpdate: "the edit", JournalDelete: "the deletion"}[u.Change.Kind]
	s := fmt.Sprintf("Undid %s of %s “%s”", what, noun, title)
	switch u.Action {
	case UndoDeleted:
		s += ": it is deleted again."
	case UndoRestored:
		s += ": it is back"
		if u.Also > 0 {
			s += fmt.Sprintf(" with the %d record(s) deleted with it", u.Also)
		}
		s += "."
	case UndoReverted:
		s += ": " + strings.Join(u.Fields, ", ") + " set back"
		if len(u.Kept) > 0 {
			s += "; " + strings.Join(u.Kept, ", ") + " kept as someone else changed it since"
		}
		s += "."
	default:
		switch {
		case u.OutOfSight:
			s += ": nothing to take back, it left this device when the server stopped showing it to you (a change of it not sent stays in the outbox, failed)."
		case u.OtherCollection != "":
			s += ": nothing to take back, its id now holds a " + strings.ReplaceAll(u.OtherCollection, "_", " ") + "."
		case len(u.Kept) > 0:
			s += ": nothing set back, someone else changed " + strings.Join(u.Kept, ", ") + " since."
		case u.Change.Kind == JournalDelete:
			s += ": it was back already."
		default:
			s += ": nothing to take back, it was deleted since."
		}
	}
	return s
}

// leftCopy is the copy the record of a delete left the device with
// (gone_records), and the collection of the record that left under its
// id last. Of a record that left before those were kept, it is the last
// version the journal knows, with no fields: the fields before the delete
// stand in for them.
func (db *DB) leftCopy(ctx context.Context, tx *sql.Tx, change JournalEntry) (*goneCopy, string, error) {
	g, collection, kept, err := db.goneCopy(ctx, tx, change.RecordID)
	if err != nil || kept {
		return &g, collection, err
	}
	err = tx.QueryRowContext(ctx, `SELECT version FROM journal WHERE record_id = ? AND seq >= ? AND version > 0
		ORDER BY seq DESC LIMIT 1`, change.RecordID, change.Seq).Scan(&g.version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	return &g, change.Collection, nil
}

// goneCopy reads the copy a record that left the device left with, its
// collection, and whether one is kept.
func (db *DB) goneCopy(ctx context.Context, tx *sql.Tx, id string) (g goneCopy, collection string, kept bool, err error) {
	var fields sql.NullString
	err = tx.QueryRowContext(ctx, "SELECT collection, version, out_of_sight, fields FROM gone_records WHERE record_id = ?", id).
		Scan(&collection, &g.version, &g.outOfSight, &fields)
	if errors.Is(err, sql.ErrNoRows) {
		return g, "", false, nil
	}
	if err != nil {
		return g, "", false, err
	}
	opened, err := db.openText(fields, gonePlace(collection, id))
	if err != nil {
		return g, "", false, err
	}
	g.fieldsJSON = opened.String
	return g, collection, true, nil
}
