package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// actorSync is the journal's actor for what the syncer applies.
const actorSync = "sync"

func distinctRecords(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// NextBatch returns due ops, oldest first, at most one per record, and marks them syncing.
// A record's ops go one at a time in queue order, so an op waits while an
// earlier op of its record is in flight, failed or in conflict; other
// records are never held back by it.
func (db *DB) NextBatch(ctx context.Context, now time.Time, limit int) ([]OutboxOp, error) {
	ops, _, err := db.nextBatch(ctx, now, limit, 0, false)
	return ops, err
}

// NextPushBatch is NextBatch for sending the ops: each op's fields come as
// FieldsJSON, the text the outbox holds when that is what encoding them
// gives, and are decoded only where it is not. With answerBytes above 0
// the batch also ends before the op whose result would take the answer
// past it, as the records held here let it be reckoned (at least one op
// goes): the server refuses a batch whose answer passes
// protocol.MaxAnswerBytes. cut says the batch ended there, with more ops
// due behind it.
func (db *DB) NextPushBatch(ctx context.Context, now time.Time, limit, answerBytes int) (ops []OutboxOp, cut bool, err error) {
	return db.nextBatch(ctx, now, limit, answerBytes, true)
}

func (db *DB) nextBatch(ctx context.Context, now time.Time, limit, answerBytes int, asJSON bool) (_ []OutboxOp, cut bool, _ error) {
	if err := db.enter(); err != nil {
		return nil, false, fmt.Errorf("next batch: %w", err)
	}
	defer db.leave()
	if limit <= 0 || limit > protocol.MaxOpsPerPush {
		limit = protocol.MaxOpsPerPush
	}
	owner, err := db.claimOwner()
	if err != nil {
		return nil, false, fmt.Errorf("next batch: %w", err)
	}
	// What a failed write stranded goes back first; what still cannot
	// stays remembered, and the batch's own write says why.
	_ = db.returnStranded(ctx)
	var out []OutboxOp
	var ended *endedClaims
	// The claim commits durably (tx, not txUnsynced): it marks the ops
	// that may reach the server, and an op found in flight after a stop
	// goes again as resent, which the server refuses rather than apply
	// twice once it may have compacted the answer. A claim a power cut
	// took would send such an op as new again.
	err = db.tx(ctx, func(tx *sql.Tx) (err error) {
		if ended, err = db.sweepClaims(ctx, tx); err != nil {
			return err
		}
		if err := clampRetries(ctx, tx, nanos(db.now())); err != nil {
			return err
		}
		// "+state" keeps the planner on the seq order instead of sorting
		// every pending op through the state index.
		ops, err := db.queryOpTexts(ctx, tx, `WHERE (+state = ? OR (+state = ? AND next_attempt <= ?))
			AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.record_id = outbox.record_id AND p.seq < outbox.seq)
			ORDER BY seq LIMIT ?`, OpPending, OpRetrying, nanos(now), limit)
		if err != nil {
			return err
		}
		at := nanos(db.now())
		// The highest head the server had told this device before the
		// first attempt that may have reached the server goes with every
		// later send of the op: the server answers a resend whose answer
		// it may have compacted with outcome_unknown instead of applying
		// it twice, and an op sent after the device heard of a head is
		// answered no lower. The pull cursor is such a head too; a device
		// that never pulled (new, or resyncing from 0) still knows the
		// heads of its pushes and health probes. Each attempt notes its
		// own; how it ends decides whether that counts.
		cur, err := getMeta(ctx, tx, metaCursor)
		if err != nil {
			return err
		}
		head, err := knownHead(ctx, tx)
		if err != nil {
			return err
		}
		cursor, _ := strconv.ParseInt(cur, 10, 64)
		since := max(cursor, head)
		if len(ops) == 0 {
			return nil
		}
		if answerBytes > 0 {
			n := len(ops)
			if ops, err = fitAnswer(ctx, tx, ops, answerBytes); err != nil {
				return err
			}
			cut = len(ops) < n
		}
		seqs := make([]int64, len(ops))
		recordIDs := make([]string, len(ops))
		out = make([]OutboxOp, 0, len(ops))
		for i, o := range ops {
			seqs[i], recordIDs[i] = o.seq, o.RecordID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, attempts = attempts + 1, updated_at = ?,
			attempt_since = ?, claimed_by = ? WHERE seq `+inIDs, OpSyncing, at, since, owner, idList(seqs)); err != nil {
			return err
		}
		if err := refreshStates(ctx, tx, recordIDs); err != nil {
			return err
		}
		for _, t := range ops {
			o := t.opRow
			was := claim{state: o.state, updatedAt: o.updatedAt, attemptSince: o.attemptSince, entry: t.entry}
			var fields []byte
			if asJSON {
				// Canonical text is what encoding the fields writes
				// (fieldsJSON): it goes as it is stored.
				switch was.stored = !t.fields.Valid || canonicalFields(t.fields.String); {
				case t.fields.Valid && was.stored:
					fields = []byte(t.fields.String)
				case t.fields.Valid:
					j, err := t.fieldsJSON()
					if err != nil {
						return err
					}
					if j != nil {
						fields = []byte(j.(string))
					}
				}
			} else if o, err = t.decode(); err != nil {
				return err
			}
			o.state, o.attempts, o.updatedAt = OpSyncing, o.attempts+1, at
			o.attemptSince = sql.NullInt64{Int64: since, Valid: true}
			op := o.outboxOp()
			op.FieldsJSON, op.claimed = fields, was
			out = append(out, op)
		}
		return nil
	})
	if ended != nil {
		ended.done(err == nil)
	}
	if err != nil {
		return nil, false, fmt.Errorf("next batch: %w", err)
	}
	return out, cut, nil
}

// Unclaim puts ops a NextBatch or NextPushBatch handed out, and that were
// never sent, back in the queue as they were: same state, attempts and
// times, as if never taken. An op no longer in flight as it was handed
// out (answered, discarded or taken again meanwhile) is left alone.
func (db *DB) Unclaim(ctx context.Context, ops []OutboxOp) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("unclaim: %w", err)
	}
	defer db.leave()
	if len(ops) == 0 {
		return nil
	}
	for _, o := range ops {
		if o.claimed.state == "" {
			return fmt.Errorf("unclaim: op %s was not handed out by a batch", o.OpID)
		}
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return unclaimIn(ctx, tx, ops) })
	if err != nil {
		db.strand(strandedOps{unclaim: ops})
		return fmt.Errorf("unclaim: %w", err)
	}
	return nil
}

func unclaimIn(ctx context.Context, tx *sql.Tx, ops []OutboxOp) error {
	var recordIDs []string
	for _, o := range ops {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, attempts = attempts - 1, updated_at = ?, attempt_since = ?
			WHERE op_id = ? AND state = ? AND attempts = ?`,
			o.claimed.state, o.claimed.updatedAt, o.claimed.attemptSince, o.OpID, OpSyncing, o.Attempts)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			recordIDs = append(recordIDs, o.RecordID)
		}
	}
	return refreshStates(ctx, tx, recordIDs)
}

// clampRetries keeps a wall clock that went back from stretching a retry's
// wait: a retrying op was scheduled at its updated_at to wait until
// next_attempt; if that moment lies after now, the clock went back since,
// and the op waits its own delay from now instead of until the clock has
// caught up (which, after a battery clock corrected by NTP, may be days).
func clampRetries(ctx context.Context, tx *sql.Tx, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE outbox SET next_attempt = ? + (next_attempt - updated_at), updated_at = ?
		WHERE state = ? AND updated_at > ? AND next_attempt > updated_at`, now, now, OpRetrying, now)
	return err
}

// MarkRetry returns ops to the queue after a transient failure that may
// have come after the server read them (a lost answer, a timeout), due at
// next: their later sends are resends.
func (db *DB) MarkRetry(ctx context.Context, opIDs []string, errMsg string, next time.Time) error {
	return db.markRetry(ctx, opIDs, errMsg, next, true)
}

// MarkUndelivered returns ops to the queue after a failure that surely
// came before the server read them (no connection could be made, or the
// server refused the request unread as busy), due at next: the attempt
// does not count as a send.
func (db *DB) MarkUndelivered(ctx context.Context, opIDs []string, errMsg string, next time.Time) error {
	return db.markRetry(ctx, opIDs, errMsg, next, false)
}

func (db *DB) markRetry(ctx context.Context, opIDs []string, errMsg string, next time.Time, maybeDelivered bool) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("mark for retry: %w", err)
	}
	defer db.leave()
	if len(opIDs) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error { return db.markRetryIn(ctx, tx, opIDs, errMsg, next, maybeDelivered) })
	if err != nil {
		db.strand(strandedOps{retry: opIDs, msg: errMsg, maybeDelivered: maybeDelivered})
		return fmt.Errorf("mark for retry: %w", err)
	}
	return nil
}

func (db *DB) markRetryIn(ctx context.Context, tx *sql.Tx, opIDs []string, errMsg string, next time.Time, maybeDelivered bool) error {
	at := nanos(db.now())
	ids, err := distinctRecords(ctx, tx, `UPDATE outbox SET state = ?, last_error = ?, next_attempt = ?, updated_at = ?,
		sent_since = CASE WHEN ? THEN COALESCE(sent_since, attempt_since) ELSE sent_since END
		WHERE op_id `+inIDs+` AND state = ? RETURNING record_id`, OpRetrying, errMsg, nanos(next), at, maybeDelivered, idList(opIDs), OpSyncing)
	if err != nil {
		return err
	}
	n := len(ids)
	if err := refreshStates(ctx, tx, ids); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalRetry,
		Summary: fmt.Sprintf("%d change(s) not delivered (%s); next try at %s", n, errMsg, next.Local().Format(time.DateTime))})
}

// ApplyPushResults applies the server's answers to a batch in one transaction.
// Answers for ops no longer queued (discarded meanwhile) are ignored. The
// answer to a create made here that met the server's own copy of its
// record, with other values, becomes a conflict for review, and a
// conflict without its record (its record out of the user's sight) a
// refusal, not_found; each is rewritten so in results.
func (db *DB) ApplyPushResults(ctx context.Context, results []protocol.OpResult) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("apply push results: %w", err)
	}
	defer db.leave()
	err := db.tx(ctx, func(tx *sql.Tx) error { return db.applyResults(ctx, tx, results, nil) })
	if err != nil {
		return fmt.Errorf("apply push results: %w", err)
	}
	return nil
}

// setBase stores the server's copy of a record unless the row already holds
// a newer one (a pull may have overtaken the push answer).
func (db *DB) setBase(ctx context.Context, tx *sql.Tx, rec recordRow, r *protocol.Record) error {
	if r == nil || r.Version < rec.version {
		return nil
	}
	base := rec.base
	if !r.Deleted || r.Fields != nil {
		col, _ := db.schema.Collection(rec.collection)
		base = normalizeWire(col, r.Fields)
	}
	bj, err := encodeNullable(base)
	if err != nil {
		return err
	}
	if bj == nil {
		bj = "{}"
	}
	_, err = tx.ExecContext(ctx, "UPDATE records SET base_fields = ?, version = ?, base_deleted = ?, resync_mark = 0 WHERE rid = ?",
		db.sealNullable(bj, recordPlace("base_fields", rec.collection, rec.id)), r.Version, r.Deleted, rec.rid)
	return err
}

// applyAck handles applied and merged: the op leaves the queue, the record
// takes the server's copy, and later ops made on the same base now stand
// on the new version.
func (db *DB) applyAck(ctx context.Context, tx *sql.Tx, op opRow, res protocol.OpResult) error {
	if err := deleteOp(ctx, tx, op.seq); err != nil {
		return err
	}
	rec, err := db.getRow(ctx, tx, op.RecordID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	version, kept := int64(0), false
	if err == nil {
		if err := db.setBase(ctx, tx, rec, res.Record); err != nil {
			return err
		}
		if res.Record != nil {
			version = res.Record.Version
			if err := db.rebase(ctx, tx, op, res); err != nil {
				return err
			}
		}
		if _, kept, err = db.recompute(ctx, tx, op.RecordID, 0); err != nil {
			return err
		}
	}
	err = db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalKind(res.Result), RecordID: op.RecordID,
		Collection: op.Collection, OpID: op.OpID, Summary: ackSummary(op, res, version), After: op.Fields, Version: version})
	if err != nil || res.Record != nil {
		return err
	}
	// Applied where this user may no longer see it (the answer shows no
	// record: its matter was lost, or it moved out of the user's matters,
	// since the op was first sent). The record leaves out of sight, as a
	// lost matter's do, and so do its values in the journal; changes of
	// it still queued stay, failed, for the user to export or discard
	// (the server would refuse them as of a record it does not show).
	if kept {
		return db.dropRecords(ctx, tx, JournalRemoved, shownNoMore, "id = ?", op.RecordID)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE gone_records SET out_of_sight = 1, fields = NULL WHERE record_id = ?", op.RecordID); err != nil {
		return err
	}
	return db.redactLeft(ctx, tx, op.RecordID)
}

// rebase moves the record's later ops onto the version the server gave the
// acknowledged op: they were made on top of it. An update moves only when
// every field it changes still has, at that version, the value its author
// saw; after a merged answer the new version may hold another device's
// change of such a field, which the update must meet as a conflict rather
// than silently overwrite. Deletes and creates move when nothing but the
// acknowledged op happened in between (applied on the same base).
func (db *DB) rebase(ctx context.Context, tx *sql.Tx, acked opRow, res protocol.OpResult) error {
	later, err := db.queryOps(ctx, tx, "WHERE record_id = ? AND seq > ? AND state != ? AND base_version < ? ORDER BY seq",
		acked.RecordID, acked.seq, OpConflict, res.Record.Version)
	if err != nil {
		return err
	}
	col, _ := db.schema.Collection(acked.Collection)
	server := normalizeWire(col, res.Record.Fields)
	for _, o := range later {
		move := o.BaseVersion == acked.BaseVersion && res.Result == model.ResultApplied
		if o.Kind == model.OpUpdate && !res.Record.Deleted {
			move = true
			for f := range o.Fields {
				seen, ok := o.baseValues[f]
				if !ok || !model.Equal(seen, server[f]) {
					move = false
					break
				}
			}
		}
		if !move {
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET base_version = ? WHERE seq = ?", res.Record.Version, o.seq); err != nil {
			return err
		}
	}
	return nil
}

// applyConflict keeps the op, marked conflict, and records base, mine and
// theirs of every overlapping field for a person to review.
func (db *DB) applyConflict(ctx context.Context, tx *sql.Tx, op opRow, res protocol.OpResult) error {
	now := nanos(db.now())
	rec, err := db.getRow(ctx, tx, op.RecordID)
	if errors.Is(err, ErrNotFound) {
		// Nothing left here to review against: keep the change as refused.
		return db.applyRejected(ctx, tx, op, "conflict", "the server has a newer change of a record no longer on this device", nil)
	}
	if err != nil {
		return err
	}
	// A person decides now: whatever the review keeps is theirs, not a
	// backup's to give way to the server's copy.
	op.state, op.updatedAt, op.imported = OpConflict, now, false
	if err := db.saveOp(ctx, tx, op); err != nil {
		return err
	}
	c := model.Conflict{RecordID: op.RecordID, Collection: op.Collection, OpID: op.OpID,
		BaseVersion: op.BaseVersion, TheirsVersion: rec.version, Mine: op.Fields}
	col, _ := db.schema.Collection(op.Collection)
	// A conflict carries its record: one without it failed as out of
	// sight (applyResults).
	serverDeleted := res.Record.Deleted
	c.TheirsBy, c.TheirsAt = res.ChangedBy, res.ChangedAt
	if c.TheirsBy == "" {
		// A server that does not name the change's author: the record's
		// last change stands in.
		c.TheirsBy, c.TheirsAt = res.Record.UpdatedBy, res.Record.UpdatedAt
	}
	c.TheirsVersion = res.Record.Version
	if !res.Record.Deleted || len(res.Record.Fields) > 0 {
		c.Theirs = normalizeWire(col, res.Record.Fields)
	}
	base := func(f string) any {
		if v, ok := op.baseValues[f]; ok {
			return v
		}
		return rec.base[f]
	}
	switch {
	case op.Kind == model.OpDelete:
		c.Kind = model.ConflictDeleteEdit
		for _, f := range res.ConflictFields {
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Theirs: c.Theirs[f]})
		}
	case serverDeleted:
		c.Kind = model.ConflictEditDeleted
		if c.Theirs == nil {
			// No fields came with the tombstone: the last copy this
			// device knows (a pulled tombstone's, if one came) stands in.
			c.Theirs = rec.base.Clone()
		}
		c.Fields = editDeletedFields(c.Theirs, rec.base, op, base)
	default:
		c.Kind = model.ConflictEdit
		for _, f := range res.ConflictFields {
			c.Fields = append(c.Fields, model.FieldConflict{Field: f, Base: base(f), Mine: op.Fields[f], Theirs: c.Theirs[f]})
		}
	}
	if err := db.setBase(ctx, tx, rec, res.Record); err != nil {
		return err
	}
	if err := db.insertConflict(ctx, tx, c, now); err != nil {
		return err
	}
	if rec.version > res.Record.Version {
		// A pull overtook the answer: the review shows, and "theirs"
		// applies, the newer copy this device holds, as when a pull
		// comes after the conflict (refreshConflict). Its author is not
		// kept here, so the review names none.
		newer := &protocol.Record{ID: rec.id, Collection: rec.collection, Version: rec.version, Deleted: rec.baseDeleted, Fields: rec.base}
		if err := db.refreshConflict(ctx, tx, newer); err != nil {
			return err
		}
	}
	if _, _, err := db.recompute(ctx, tx, op.RecordID, 0); err != nil {
		return err
	}
	summary := "the server has newer changes of " + strings.Join(res.ConflictFields, ", ") + "; review the conflict"
	switch {
	case op.Kind == model.OpCreate && op.BaseVersion == 0 && c.Kind == model.ConflictEditDeleted:
		// A create that met the server's own copy (applyCreateMet).
		summary = "the server already had this record, made on another device and deleted there since; review the conflict"
	case op.Kind == model.OpCreate && op.BaseVersion == 0:
		summary = "the server already had this record, made on another device, with other values of " +
			strings.Join(res.ConflictFields, ", ") + "; review the conflict"
	case c.Kind == model.ConflictDeleteEdit:
		summary = "the server changed this record after you deleted it; review the conflict"
	case c.Kind == model.ConflictEditDeleted:
		summary = "the server deleted this record after you edited it; review the conflict"
	}
	// The entry keeps the server version the answer brought, as an ack's
	// does: an undo of a delete restores a record that left the device
	// on the last version the journal knows (restore).
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalConflict, RecordID: op.RecordID,
		Collection: op.Collection, OpID: op.OpID, Summary: summary, Before: c.Theirs, After: op.Fields,
		Version: max(rec.version, res.Record.Version)})
}

// metFields is, for a create made on this device answered with a copy the
// server already had, the fields whose values the answer dropped and that
// a person must review: every one the create set that the collection's
// merge policy does not leave to the server (server-wins); a value only
// the server's copy holds was never this device's. Such a create met a
// record another device made first under the same id: a backup of this
// device restored elsewhere while the create was still unsent. On a
// tombstone that kept its fields, a field whose value the deleter saw as
// the create holds it is left out: deleting what the person made is no
// conflict. An import's own create is a backup restored here, whose
// values are older than the server's by nature: it takes the server's
// copy as it is (see enqueue). A create a backup holds (exported) does
// not: the server's copy may have come from an older backup, or the same
// one changed since, and which cannot be told here.
func metFields(op opRow, res protocol.OpResult, schema *model.Schema) []string {
	if !mayMeet(op, res) {
		return nil
	}
	col, ok := schema.Collection(op.Collection)
	if !ok {
		return nil
	}
	// A tombstone that kept its fields says what its deleter saw: a value
	// the create holds as the deleter saw it is no change of this device's.
	var seen model.Fields
	if res.Record.Deleted && len(res.Record.Fields) > 0 {
		seen = normalizeWire(col, res.Record.Fields)
	}
	var out []string
	for _, f := range res.Dropped {
		v, set := op.Fields[f]
		if set && col.Policy(f) != model.PolicyServerWins && (seen == nil || !model.Equal(seen[f], v)) {
			out = append(out, f)
		}
	}
	return out
}

// mayMeet reports whether res may answer op as a create that met the
// server's own copy of its record (metFields), its fields unread.
func mayMeet(op opRow, res protocol.OpResult) bool {
	return op.Kind == model.OpCreate && op.BaseVersion == 0 && !op.imported && res.Result == model.ResultMerged &&
		res.Record != nil && len(res.Dropped) > 0
}

// createMet is the answer to a create that met the server's own copy of
// its record (metFields) as the conflict this device takes it for, over
// the fields met: the server kept its copy, and this device's values go
// to review rather than vanish. On a copy the server has deleted, it is
// an edit of a deleted record: restore it with this device's values, or
// leave it deleted.
func createMet(res protocol.OpResult, met []string) protocol.OpResult {
	res.Result, res.ConflictFields = model.ResultConflict, met
	if res.Record.Deleted {
		res.Message = "The server already had this record, deleted."
	} else {
		res.Message = "The server already had this record, with other values."
	}
	return res
}

// editDeletedFields lists every field of an edit of a deleted record: the
// server's last value (theirs), the value the edit was made on (base) and
// this device's (mine: the edit's value, or for a field it did not
// change, the base), for every field either side knows. "Restore with my edits" starts from theirs and lays
// the edit's own changes on top (model.Conflict.Resolve).
func editDeletedFields(theirs, known model.Fields, op opRow, base func(string) any) []model.FieldConflict {
	names := map[string]bool{}
	for _, set := range []model.Fields{theirs, op.Fields, known, op.baseValues} {
		for f := range set {
			names[f] = true
		}
	}
	var out []model.FieldConflict
	for _, f := range sortedNames(names) {
		mine, ok := op.Fields[f]
		if !ok && op.Kind != model.OpCreate {
			mine = base(f)
		}
		out = append(out, model.FieldConflict{Field: f, Base: base(f), Mine: mine, Theirs: theirs[f]})
	}
	return out
}

// nanosOrZero is t in nanoseconds, 0 for the zero time.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func (db *DB) insertConflict(ctx context.Context, tx *sql.Tx, c model.Conflict, now int64) error {
	fields, err := encodeJSON(c.Fields)
	if err != nil {
		return err
	}
	mine, err := encodeNullable(c.Mine)
	if err != nil {
		return err
	}
	theirs, err := encodeNullable(c.Theirs)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO conflicts (`+conflictCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.RecordID, c.Collection, c.OpID, c.Kind, c.BaseVersion, c.TheirsVersion, db.sealText(fields, conflictPlace("fields", &c)),
		db.sealNullable(mine, conflictPlace("mine", &c)), db.sealNullable(theirs, conflictPlace("theirs", &c)), now,
		db.sealText(c.TheirsBy, conflictPlace("theirs_by", &c)), nanosOrZero(c.TheirsAt))
	return err
}

// applyRejected marks the op failed with the server's reason. Its data stays
// in the outbox; the record shows the server's copy, or, if the server never
// had it, what was sent, failed, for the person to fix or discard.
func (db *DB) applyRejected(ctx context.Context, tx *sql.Tx, op opRow, code protocol.Code, msg string, probs model.Problems) error {
	if msg == "" {
		msg = "the server refused the change (" + string(code) + ")"
	}
	// An answer to an op sent just before its matter was revoked: while its
	// record is gone the revocation, not this answer, says why it waits
	// (and tells Doctor why the record is missing).
	keepRevoked := false
	if (op.errorCode == protocol.CodeAccessRevoked || op.errorCode == protocol.CodeGone) && code != protocol.CodeOutcomeUnknown {
		_, err := db.getRow(ctx, tx, op.RecordID)
		if err != nil && !isNotFound(err) {
			return err
		}
		keepRevoked = err != nil
	}
	op.state, op.updatedAt = OpFailed, nanos(db.now())
	if !keepRevoked {
		op.errorCode, op.lastError = code, msg
	}
	if err := db.saveOp(ctx, tx, op); err != nil {
		return err
	}
	if err := saveProblems(ctx, tx, op.seq, probs); err != nil {
		return err
	}
	if _, _, err := db.recompute(ctx, tx, op.RecordID, 0); err != nil {
		return err
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalRejected, RecordID: op.RecordID,
		Collection: op.Collection, OpID: op.OpID, Summary: "the server refused the " + string(op.Kind) + ": " + msg,
		After: op.Fields})
}
