package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"casefile/model"
	"casefile/protocol"
)

// querier is what a *sql.Tx and a *sql.DB share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// opRow is one row of the outbox as stored.
type opRow struct {
	seq int64
	model.Op
	baseValues  model.Fields
	state       OpState
	attempts    int
	lastError   string
	errorCode   protocol.Code
	nextAttempt int64
	createdAt   int64
	updatedAt   int64
	// sentSince is the pull cursor before the first attempt that may have
	// reached the server (NULL: none may have); attemptSince the cursor
	// before the attempt in flight. model.Op's Resent and SentSince, as
	// sent, come from sentSince.
	sentSince, attemptSince sql.NullInt64
	// imported: the op is an import's create (outbox.imported, or, in a
	// file older than the column, its journal entry's kind), holding the
	// backup's values still: refused and retried it keeps them, an edit
	// folded in or a conflict ends it. The server may hold the record
	// already (a backup restored), and answers such a create with its own
	// copy: nothing is folded into it (see enqueue).
	imported bool
	// exported: the op is a create that was queued when this device's
	// records were exported as a backup (MarkBackedUp), and nothing has
	// folded into it since: restored elsewhere, the backup may bring its
	// record to the server first.
	exported bool
}

// mayArrive reports whether the op is a create whose record may reach the
// server another way, from a backup: an import's create, or one a backup
// holds. Nothing folds into it and a delete does not cancel it (enqueue).
func (o *opRow) mayArrive() bool { return o.imported || o.exported }

// opCols are the outbox's columns as insertOp writes them; an op it
// writes holds its own fields (fields_entry NULL).
const opCols = "seq, op_id, record_id, collection, kind, fields, base_values, base_version, state, attempts, last_error, error_code, next_attempt, created_at, updated_at, sent_since, attempt_since"

// opSelect is what scanOpText reads of an outbox row: opCols, then, for an
// op whose fields are its journal entry's (fields_entry), that entry's
// after and the kind and time its place names, then exported and
// imported. Subqueries rather than a join keep the callers' WHERE clauses
// on outbox's own columns unambiguous.
const opSelect = opSelectEntry + ", exported, imported"

// opSelectEntry is opSelect up to exported, which with imported a
// database older than the columns lacks (salvage reads such a file as it
// is).
const opSelectEntry = opCols + `, fields_entry,
	(SELECT j.after FROM journal j WHERE j.seq = outbox.fields_entry),
	(SELECT j.kind || '|' || j.at FROM journal j WHERE j.seq = outbox.fields_entry)`

// errNoFieldsEntry: an op refers to a journal entry for its fields and the
// journal does not hold it.
var errNoFieldsEntry = errors.New("the journal entry holding the op's fields is missing")

func (db *DB) scanOp(s rowScanner) (opRow, error) {
	t, err := db.scanOpText(s)
	if err != nil {
		return t.opRow, err
	}
	return t.decode()
}

// opText is an outbox row with its fields and base values as the JSON
// text the outbox holds (opened), not yet decoded: a push sends and
// journals an op's fields as that text, which is what encoding them gives
// (canonicalFields), and only the paths that read them decode it.
type opText struct {
	opRow        // Fields and baseValues nil until decode
	fields, base sql.NullString
	// entry is the journal entry holding the op's fields (fields_entry),
	// NULL when the op holds its own.
	entry sql.NullInt64
}

// scanOpText reads one row of opSelect, its sealed text opened.
func (db *DB) scanOpText(s rowScanner) (opText, error) {
	var entryAfter, entryPlace sql.NullString
	var exported, imported bool
	t, err := scanOpRaw(s, &entryAfter, &entryPlace, &exported, &imported)
	if err != nil {
		return t, err
	}
	o := &t.opRow
	o.exported, o.imported = exported, imported
	if t.entry.Valid {
		t.fields, err = db.openEntryFields(o, entryAfter, entryPlace)
	} else {
		t.fields, err = db.openText(t.fields, opPlace("fields", o))
	}
	if err != nil {
		return t, err
	}
	t.base, err = db.openText(t.base, opPlace("base_values", o))
	return t, err
}

// scanOpRaw reads one row of opCols and fields_entry, then into rest
// whatever else the select reads, opening nothing: fields and base are
// the text as stored.
func scanOpRaw(s rowScanner, rest ...any) (opText, error) {
	var t opText
	o := &t.opRow
	err := s.Scan(append([]any{&o.seq, &o.OpID, &o.RecordID, &o.Collection, &o.Kind, &t.fields, &t.base, &o.BaseVersion,
		&o.state, &o.attempts, &o.lastError, &o.errorCode, &o.nextAttempt, &o.createdAt, &o.updatedAt,
		&o.sentSince, &o.attemptSince, &t.entry}, rest...)...)
	o.Resent, o.SentSince = o.sentSince.Valid, o.sentSince.Int64
	return t, err
}

// openEntryFields opens an op's fields held by its journal entry: after
// as the entry holds it, and entryPlace the entry's kind and time
// ("kind|at"), both NULL when the journal has no such entry. The place is
// built from the op's own collection, record and id, so an entry of
// another record or op fails to open like a value moved from another row.
func (db *DB) openEntryFields(o *opRow, after, entryPlace sql.NullString) (sql.NullString, error) {
	if !entryPlace.Valid || !after.Valid {
		return sql.NullString{}, fmt.Errorf("op %s: %w", o.OpID, errNoFieldsEntry)
	}
	kind, at, ok := strings.Cut(entryPlace.String, "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return sql.NullString{}, fmt.Errorf("op %s: the journal entry holding its fields has no kind and time (%q)", o.OpID, entryPlace.String)
	}
	o.imported = o.imported || o.Kind == model.OpCreate && JournalKind(kind) == JournalImport
	e := JournalEntry{Collection: o.Collection, RecordID: o.RecordID, OpID: o.OpID, Kind: JournalKind(kind)}
	return db.openText(after, journalPlace("after", &e, n))
}

// decode is the row with its fields and base values decoded.
func (t opText) decode() (opRow, error) {
	o := t.opRow
	var err error
	if o.Fields, err = decodeFields(t.fields); err != nil {
		return o, err
	}
	o.baseValues, err = decodeFields(t.base)
	return o, err
}

// fieldsJSON is what encodeNullable gives of the op's fields: SQL NULL
// (nil) for none, else their JSON, taken as stored when it is canonical.
func (t opText) fieldsJSON() (any, error) {
	if t.fields.Valid && canonicalFields(t.fields.String) {
		return t.fields.String, nil
	}
	f, err := decodeFields(t.fields)
	if err != nil {
		return nil, err
	}
	return encodeNullable(f)
}

// outboxOp is the row as callers see it.
func (o opRow) outboxOp() OutboxOp {
	return OutboxOp{
		Seq:         o.seq,
		Op:          o.Op,
		State:       o.state,
		Attempts:    o.attempts,
		LastError:   o.lastError,
		ErrorCode:   o.errorCode,
		NextAttempt: fromNanos(o.nextAttempt),
		CreatedAt:   fromNanos(o.createdAt),
		UpdatedAt:   fromNanos(o.updatedAt),
	}
}

func (db *DB) queryOps(ctx context.Context, q querier, where string, args ...any) ([]opRow, error) {
	texts, err := db.queryOpTexts(ctx, q, where, args...)
	if err != nil || len(texts) == 0 {
		return nil, err
	}
	ops := make([]opRow, len(texts))
	for i, t := range texts {
		if ops[i], err = t.decode(); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// queryOpTexts is queryOps leaving the fields undecoded.
func (db *DB) queryOpTexts(ctx context.Context, q querier, where string, args ...any) ([]opText, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+opSelect+" FROM outbox "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ops []opText
	for rows.Next() {
		t, err := db.scanOpText(rows)
		if err != nil {
			return nil, err
		}
		ops = append(ops, t)
	}
	return ops, rows.Err()
}

// recordOps returns a record's ops in queue order.
func (db *DB) recordOps(ctx context.Context, q querier, recordID string) ([]opRow, error) {
	return db.queryOps(ctx, q, "WHERE record_id = ? ORDER BY seq", recordID)
}

// getOp returns one op by id, or ErrNoOp.
func (db *DB) getOp(ctx context.Context, q querier, opID string) (opRow, error) {
	o, err := db.scanOp(q.QueryRowContext(ctx, "SELECT "+opSelect+" FROM outbox WHERE op_id = ?", opID))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("op %s: %w", opID, ErrNoOp)
	}
	return o, err
}

// insertOp queues an op; a non-zero seq puts it back at that place in the queue.
func (db *DB) insertOp(ctx context.Context, q querier, o opRow) error {
	fields, err := encodeNullable(o.Fields)
	if err != nil {
		return err
	}
	base, err := encodeNullable(o.baseValues)
	if err != nil {
		return err
	}
	var seq any
	if o.seq != 0 {
		seq = o.seq
	}
	_, err = q.ExecContext(ctx, "INSERT INTO outbox ("+opCols+", exported, imported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		seq, o.OpID, o.RecordID, o.Collection, o.Kind, db.sealNullable(fields, opPlace("fields", &o)),
		db.sealNullable(base, opPlace("base_values", &o)), o.BaseVersion,
		o.state, o.attempts, o.lastError, o.errorCode, o.nextAttempt, o.createdAt, o.updatedAt, o.sentSince, o.attemptSince, o.exported, o.imported)
	return err
}

// saveOp writes back every mutable column of an op, by seq. The op then
// holds its own fields: they may differ from its journal entry's now, and
// its id, which the entry's place names, may have changed.
func (db *DB) saveOp(ctx context.Context, q querier, o opRow) error {
	fields, err := encodeNullable(o.Fields)
	if err != nil {
		return err
	}
	base, err := encodeNullable(o.baseValues)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE outbox SET op_id = ?, kind = ?, fields = ?, fields_entry = NULL, base_values = ?, base_version = ?,
		state = ?, attempts = ?, last_error = ?, error_code = ?, next_attempt = ?, updated_at = ?, sent_since = ?, attempt_since = ?,
		exported = ?, imported = ? WHERE seq = ?`,
		o.OpID, o.Kind, db.sealNullable(fields, opPlace("fields", &o)), db.sealNullable(base, opPlace("base_values", &o)),
		o.BaseVersion, o.state, o.attempts, o.lastError, o.errorCode,
		o.nextAttempt, o.updatedAt, o.sentSince, o.attemptSince, o.exported, o.imported, o.seq)
	return err
}

func deleteOp(ctx context.Context, q querier, seq int64) error {
	_, err := q.ExecContext(ctx, "DELETE FROM outbox WHERE seq = ?", seq)
	return err
}

// heldBack reports an op failed here rather than by the server — its
// record left the device (access_revoked, gone) — after an attempt that
// may have reached the server: its id may have taken effect, so it is
// sent again under that id (the server answers from its ledger), never
// folded into or renewed.
func (o opRow) heldBack() bool {
	return o.state == OpFailed && (o.errorCode == protocol.CodeAccessRevoked || o.errorCode == protocol.CodeGone) && o.sentSince.Valid
}

// resetFailed gives a failed op a new id and puts it back in the queue: the
// server remembers its answer to the old id and would only replay it.
func resetFailed(o *opRow, now int64) {
	o.OpID = model.NewID()
	o.state = OpPending
	o.attempts = 0
	o.Resent, o.SentSince = false, 0
	o.sentSince, o.attemptSince = sql.NullInt64{}, sql.NullInt64{}
	o.lastError, o.errorCode = "", ""
	o.nextAttempt = 0
	o.updatedAt = now
}

// coalesced says what enqueue did with a change.
type coalesced int

const (
	queuedNew     coalesced = iota // a new op behind the others
	foldedIn                       // merged into the last, never-sent op
	refolded                       // merged into a failed op, which got a new id
	cancelled                      // a delete cancelled a create the server never applied
	behindRefused                  // a change queued behind a refused create a backup holds, which goes again
)

// enqueue queues a user's change of rec. Edits coalesce into the record's
// last op only while it has never been sent (pending, no attempt), or when
// the server refused it (failed), and never into a create whose record may
// reach the server from a backup (mayArrive: an import's, or one a backup
// of this device holds): the server may have the record then and answers
// such a create with its own copy, so an edit folded in would be dropped
// or sent to review, and a delete that cancelled it would never reach the
// server; behind it, they are sent on the server's copy (see rebase).
// For the same reason changes queue behind such a create the server
// refused, which goes again first (resendsFirst).
// An op that was sent has a burnt id, since
// the server answers a replayed id with its first answer, so later edits
// queue behind it. So do edits after an op whose outcome the server could
// not tell (outcome_unknown): it may have taken effect, and folding into it
// would send it again, or let a delete cancel a create the server has. And
// so do edits after an op refused because the server's schema differs
// (schema_mismatch): sent again it would only be refused again.
// The first base value of each field is kept.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, rec recordRow, kind model.OpKind, changes, baseValues model.Fields, now int64) (opRow, coalesced, error) {
	ops, err := db.recordOps(ctx, tx, rec.id)
	if err != nil {
		return opRow{}, 0, err
	}
	behind := queuedNew
	if n := len(ops); n > 0 {
		last := ops[n-1]
		failed := last.state == OpFailed && last.errorCode != protocol.CodeOutcomeUnknown && !last.heldBack() && !last.schemaRefused()
		if failed && last.resendsFirst() {
			// A backup holding the refused create may have brought its
			// record to the server since: the create goes again, and the
			// change behind it, on the server's copy if it has one. The
			// journal names the create's new id, as a retry's does.
			oldID := last.OpID
			resetFailed(&last, now)
			if err := db.saveOp(ctx, tx, last); err != nil {
				return opRow{}, 0, err
			}
			if err := db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalRetry, RecordID: last.RecordID,
				Collection: last.Collection, OpID: last.OpID, After: last.Fields,
				Summary: fmt.Sprintf("the refused create will be sent again as a new change (it was %s), before this device's next change: a backup holding it may have brought the record to the server", oldID)}); err != nil {
				return opRow{}, 0, err
			}
			failed, behind = false, behindRefused
		}
		if failed || (last.state == OpPending && last.attempts == 0 && !last.mayArrive()) {
			how := foldedIn
			if failed {
				how = refolded
			}
			switch {
			case kind == model.OpDelete && last.Kind == model.OpCreate && !(failed && last.errorCode == protocol.CodeIDConflict):
				// The server never applied the create: both vanish.
				return last, cancelled, deleteOp(ctx, tx, last.seq)
			case kind == model.OpDelete:
				// A create refused as id_conflict met a record the server
				// has under its id (a backup's record in a matter this
				// user no longer sees): the delete goes to the server,
				// which refuses it or has it reviewed, rather than vanish
				// with the create.
				last.Kind, last.Fields = model.OpDelete, nil
			case last.Kind == model.OpCreate:
				last.Fields = overlay(last.Fields.Clone(), changes)
			case last.Kind == model.OpDelete:
				// Only a failed delete can be edited past: the edit replaces it.
				last.Kind, last.Fields, last.baseValues = model.OpUpdate, changes.Clone(), baseValues.Clone()
			default:
				if last.Fields == nil {
					last.Fields = model.Fields{}
				}
				if last.baseValues == nil {
					last.baseValues = model.Fields{}
				}
				for k, v := range changes {
					last.Fields[k] = v
					if _, seen := last.baseValues[k]; !seen {
						last.baseValues[k] = baseValues[k]
					}
				}
			}
			if failed {
				resetFailed(&last, now)
				// It now holds values no backup has.
				last.exported, last.imported = false, false
			}
			last.updatedAt = now
			return last, how, db.saveOp(ctx, tx, last)
		}
	}
	o := opRow{
		Op: model.Op{OpID: model.NewID(), RecordID: rec.id, Collection: rec.collection, Kind: kind,
			Fields: changes, BaseVersion: rec.version},
		baseValues: baseValues,
		state:      OpPending,
		createdAt:  now,
		updatedAt:  now,
	}
	return o, behind, db.insertOp(ctx, tx, o)
}

// resendsFirst reports, of a create the server refused, whether a change
// of its record queues behind it, the create going again, rather than
// folding into it (or, for a delete, cancelling it): a create a backup
// holds (mayArrive), refused neither for its values (validation), which
// any copy of it would be refused for, nor because the server has a
// record under its id (id_conflict, whose delete goes to the server as
// it is). A backup restored on another device, where its matter was
// there or the person could write, may have brought the record to the
// server since; folded into, the create would take the person's edit for
// another device's record, and cancelled by a delete, the delete would
// never reach the server.
func (o *opRow) resendsFirst() bool {
	return o.Kind == model.OpCreate && o.mayArrive() &&
		o.errorCode != protocol.CodeValidation && o.errorCode != protocol.CodeIDConflict
}

// MarkBackedUp notes that this device's records are being exported as a
// backup: every create still queued is marked exported (see opRow), so
// that, should the backup be restored on another device that reaches the
// server first, this device's later changes of those records queue behind
// their creates and reach the server rather than vanish into a create the
// server answers with the backup's copy. It returns how many it marked.
func (db *DB) MarkBackedUp(ctx context.Context) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("mark backed up: %w", err)
	}
	defer db.leave()
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE outbox SET exported = 1 WHERE kind = ? AND base_version = 0 AND exported = 0", model.OpCreate)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mark backed up: %w", err)
	}
	return int(n), nil
}
