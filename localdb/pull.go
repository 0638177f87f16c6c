package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"casefile/model"
	"casefile/protocol"
)

const revokedMessage = "you no longer have access to this matter; the change is kept on this device (export or discard it)"

const goneMessage = "the server no longer shows this record (deleted there, or you lost access to its matter); the change is kept on this device (export or discard it)"

// ApplyPull applies one pull page and its cursor in one transaction.
// Server changes become each record's base; queued local ops stay on top, so
// a pull never clobbers an unsent edit and never brings back a record
// deleted here. The cursor moves with the data, never ahead, never back.
func (db *DB) ApplyPull(ctx context.Context, page protocol.PullResponse) error {
	return db.ApplyPrepared(ctx, page, nil)
}

// ApplyPrepared is ApplyPull with the page's records prepared ahead
// (PrepareAhead of page.Records; nil prepares them here). It consumes
// ahead, applied or not.
func (db *DB) ApplyPrepared(ctx context.Context, page protocol.PullResponse, ahead *PullAhead) error {
	defer ahead.Stop() // when the transaction did not take it
	if err := db.enter(); err != nil {
		return fmt.Errorf("apply pull: %w", err)
	}
	defer db.leave()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		changed, notes, err := db.pullRecords(ctx, tx, page.Records, ahead)
		if err != nil {
			return err
		}
		removed := make([]string, len(page.Removed))
		for i, rm := range page.Removed {
			if err := db.dropRecords(ctx, tx, JournalRemoved, lostAccess, "id = ?", rm.ID); err != nil {
				return err
			}
			removed[i] = rm.ID
		}
		if err := db.leaveSightOf(ctx, tx, removed...); err != nil {
			return err
		}
		lost := make(map[string]bool, len(page.DroppedMatters))
		for _, m := range page.DroppedMatters {
			// A record's shown matter may be a pending move's target; the
			// server drops by the matter it holds the record in. The
			// records whose two matters differ all have queued ops.
			if err := db.dropRecords(ctx, tx, JournalDroppedMatter, lostAccess,
				"matter_id = ? OR id IN (SELECT record_id FROM outbox)", m); err != nil {
				return err
			}
			lost[m] = true
		}
		if len(lost) > 0 {
			// Records that left before, deleted, go with their matter:
			// one pass over the kept copies for all the page's matters.
			if err := db.leaveSightWith(ctx, tx, func(m string) bool { return lost[m] }); err != nil {
				return err
			}
		}
		if err := db.advanceCursor(ctx, tx, page.Cursor); err != nil {
			return err
		}
		if err := raiseHead(ctx, tx, page.Head); err != nil {
			return err
		}
		if !page.More {
			if err := db.finishResync(ctx, tx); err != nil {
				return err
			}
		}
		if err := setMeta(ctx, tx, metaLastSync, db.now().UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
		if len(page.Records) == 0 {
			return nil
		}
		if len(notes) <= pullJournalEach && changed > 0 {
			// A few changes: one entry each, naming who made it. Those
			// of records the page's drops took out of sight are written
			// without values (the journal_out_of_sight trigger).
			for _, e := range notes {
				if err := db.journal(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		}
		return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalPull,
			Summary: fmt.Sprintf("received %d record(s) from the server, %d changed here", len(page.Records), changed)})
	})
	if err != nil {
		return fmt.Errorf("apply pull: %w", err)
	}
	return nil
}

// CheckpointSoon asks the background checkpointer to copy the WAL back
// into the database file now, not at its next turn, and does not wait.
// The syncer asks as a full pull writes its last page: nothing is then
// left to fetch, decode or prepare, so the copying of the pages before
// it takes a core that would idle, where Close would copy them all after
// the last commit (a first sync of 10,000 notes leaves 16 MB of WAL, some
// 25 ms to copy back; docs/benchmarks.md, seventeenth round).
func (db *DB) CheckpointSoon() error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer db.leave()
	db.kickCheckpointer()
	return nil
}

// pullJournalEach is how many changed records a pull page journals one
// by one, each with who changed it; a page with more (a first sync, a
// resync) gets one entry that counts them.
const pullJournalEach = 50

// pullRecord makes one server record the base of the local one and reports
// whether anything changed, with the journal entry that tells who changed
// what.
func (db *DB) pullRecord(ctx context.Context, tx *sql.Tx, r *protocol.Record, page *pullPage, describe bool) (int, JournalEntry, error) {
	local, exists, queued, err := page.local(ctx, db, tx, r.ID)
	if err != nil {
		return 0, JournalEntry{}, err
	}
	n, err := db.pullInto(ctx, tx, r, local, exists, queued)
	if n == 0 || err != nil || !describe {
		return n, JournalEntry{}, err
	}
	return n, pulledEntry(db.schema, r, local, exists), nil
}

// pullPage is what a pull page's records are here, read once for the
// page: the local rows and how many ops each has queued. A record the page
// holds more than once is left out, and read again each time.
type pullPage struct {
	rows   map[string]recordRow
	queued map[string]int
	once   map[string]bool
	// oneByOne keeps every record off the multi-row path (DB.pullOneByOne).
	oneByOne bool
}

// onceIn maps each id of recs to whether the page holds it once, and
// lists the ids in their first places.
func onceIn(recs []protocol.Record) (map[string]bool, []string) {
	once := make(map[string]bool, len(recs))
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		if _, seen := once[r.ID]; seen {
			once[r.ID] = false
			continue
		}
		once[r.ID] = true
		ids = append(ids, r.ID)
	}
	return once, ids
}

func (db *DB) loadPullPage(ctx context.Context, tx *sql.Tx, recs []protocol.Record) (*pullPage, error) {
	once, ids := onceIn(recs)
	p := &pullPage{rows: map[string]recordRow{}, queued: map[string]int{}, once: once, oneByOne: db.pullOneByOne}
	if len(ids) == 0 {
		return p, nil
	}
	list := idList(ids)
	if err := db.loadRecords(ctx, tx, list, p.rows); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT record_id, count(*) FROM outbox WHERE record_id "+inIDs+" GROUP BY record_id", list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		p.queued[id] = n
	}
	return p, rows.Err()
}

// local returns a record's row (exists false when there is none) and how
// many ops it has queued.
func (p *pullPage) local(ctx context.Context, db *DB, tx *sql.Tx, id string) (row recordRow, exists bool, queued int, err error) {
	if p.once[id] {
		row, exists = p.rows[id]
		return row, exists, p.queued[id], nil
	}
	row, err = db.getRow(ctx, tx, id)
	if err != nil && !isNotFound(err) {
		return row, false, 0, err
	}
	exists = err == nil
	err = tx.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE record_id = ?", id).Scan(&queued)
	return row, exists, queued, err
}

// pulledEntry journals a pulled change: who made it (the server's
// updated_by), on which record, and which fields it changed from the copy
// this device last had.
func pulledEntry(schema *model.Schema, r *protocol.Record, local recordRow, exists bool) JournalEntry {
	actor := r.UpdatedBy
	if actor == "" {
		actor = actorSync
	}
	e := JournalEntry{Actor: actor, Kind: JournalPull, RecordID: r.ID, Collection: r.Collection, Version: r.Version}
	switch {
	case r.Deleted:
		e.Summary, e.Before = "deleted it", local.fields
	case !exists || local.base == nil || local.baseDeleted:
		e.Summary, e.After = "added it", r.Fields
	default:
		col, _ := schema.Collection(r.Collection)
		now := normalizeWire(col, r.Fields)
		changed, before := model.Fields{}, model.Fields{}
		for _, set := range []model.Fields{now, local.base} {
			for k := range set {
				if !model.Equal(local.base[k], now[k]) {
					changed[k], before[k] = now[k], local.base[k]
				}
			}
		}
		e.Summary, e.Before, e.After = "changed "+fieldList(changed), before, changed
		if len(changed) == 0 {
			e.Summary = fmt.Sprintf("brought it to version %d with the values this device had", r.Version)
		}
	}
	return e
}

// pullInto applies one server record to the local row (exists: the row
// was found; queued: the ops it has queued) and reports whether anything
// changed.
func (db *DB) pullInto(ctx context.Context, tx *sql.Tx, r *protocol.Record, local recordRow, exists bool, queued int) (int, error) {
	if exists && r.Version < local.version {
		_, err := tx.ExecContext(ctx, "UPDATE records SET resync_mark = 0 WHERE rid = ?", local.rid)
		return 0, err
	}
	touch := nanos(r.UpdatedAt)
	if touch == 0 {
		touch = nanos(db.now())
	}
	if exists && queued > 0 && local.updatedAt > touch {
		touch = local.updatedAt
	}
	if r.Deleted {
		switch {
		case !exists:
			return 0, nil
		case queued == 0:
			col, _ := db.schema.Collection(local.collection)
			gone, err := tombstoneCopy(col, r, local, false)
			if err != nil {
				return 0, err
			}
			return 1, db.purge(ctx, tx, local, gone)
		}
		// The tombstone's fields, the last the server held, become the
		// base: the queued ops will meet an edit_deleted conflict, whose
		// review and restore start from them (another user may have
		// changed the record before deleting it). A tombstone without
		// fields leaves the last copy this device knows.
		base := local.base
		if len(r.Fields) > 0 {
			col, _ := db.schema.Collection(local.collection)
			base = normalizeWire(col, r.Fields)
		}
		bj, err := encodeNullable(base)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE records SET base_fields = ?, base_deleted = 1, version = ?, resync_mark = 0 WHERE rid = ?",
			db.sealNullable(bj, recordPlace("base_fields", local.collection, local.id)), r.Version, local.rid); err != nil {
			return 0, err
		}
		if err := db.refreshConflict(ctx, tx, r); err != nil {
			return 0, err
		}
		_, _, err = db.recompute(ctx, tx, r.ID, touch)
		return 1, err
	}
	col, _ := db.schema.Collection(r.Collection)
	fj, err := encodeFields(normalizeWire(col, r.Fields))
	if err != nil {
		return 0, err
	}
	if !exists {
		matter := r.MatterID
		if matter == "" {
			matter = model.MatterOf(r.Collection, r.ID, r.Fields)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO records (id, collection, matter_id, fields, base_fields, version, state, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Collection, matter,
			db.sealText(fj, recordPlace("fields", r.Collection, r.ID)), baseSame, r.Version, model.StateSynced, touch)
		if err != nil {
			return 0, err
		}
		rid, err := res.LastInsertId()
		if err != nil {
			return 0, err
		}
		fields, err := decodeFields(sql.NullString{String: fj, Valid: true})
		if err != nil {
			return 0, err
		}
		if err := db.index(ctx, tx, rid, r.Collection, fields, false); err != nil {
			return 0, err
		}
		if queued > 0 {
			_, _, err = db.recompute(ctx, tx, r.ID, touch)
		}
		return 1, err
	}
	if local.version == r.Version && !local.baseDeleted && local.base != nil {
		if old, _ := encodeFields(local.base); old == fj {
			_, err := tx.ExecContext(ctx, "UPDATE records SET resync_mark = 0 WHERE rid = ?", local.rid)
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE records SET base_fields = ?, version = ?, base_deleted = 0, resync_mark = 0 WHERE rid = ?",
		db.sealText(fj, recordPlace("base_fields", local.collection, local.id)), r.Version, local.rid); err != nil {
		return 0, err
	}
	if queued > 0 {
		if err := db.refreshConflict(ctx, tx, r); err != nil {
			return 0, err
		}
	}
	_, _, err = db.recompute(ctx, tx, r.ID, touch)
	return 1, err
}

// dropReason is why records leave the device with their unsent ops kept
// as failed: the op's code and sentence, and the journal's words.
type dropReason struct {
	code             protocol.Code
	message, summary string
}

var (
	// lostAccess: the server said the user lost the matter.
	lostAccess = dropReason{protocol.CodeAccessRevoked, revokedMessage, "you no longer have access to its matter"}
	// notShown: a full resync did not show the record; the history that
	// would say whether it was deleted or its matter lost was compacted.
	notShown = dropReason{protocol.CodeGone, goneMessage, "the server no longer shows it (deleted there, or its matter is out of your sight)"}
	// shownNoMore: the server applied a change of the record and answered
	// without it, as it answers of a record out of the user's sight.
	shownNoMore = dropReason{protocol.CodeAccessRevoked, revokedMessage,
		"the server applied a change of it but no longer shows it to you (its matter was taken from you, or it moved out of your matters)"}
)

// dropRecords removes records the user may no longer see. Their queued ops
// stay in the outbox as failed with why.code, so no unsent work is
// lost: the user can export or discard it.
func (db *DB) dropRecords(ctx context.Context, tx *sql.Tx, kind JournalKind, why dropReason, where string, arg string) error {
	// #nosec G202 -- where is one of this file's constant clauses; the value is bound.
	rows, err := tx.QueryContext(ctx, "SELECT "+recordsSelect+" FROM records WHERE "+where, arg)
	if err != nil {
		return err
	}
	var recs []recordRow
	for rows.Next() {
		r, err := db.scanRecord(rows)
		if err != nil {
			rows.Close()
			return err
		}
		if kind == JournalDroppedMatter && serverMatter(r) != arg {
			continue
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := nanos(db.now())
	kept := int64(0)
	for _, r := range recs {
		// An op the server could not tell the outcome of keeps saying so:
		// it may have taken effect, which sending it again must not miss.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, error_code = ?, last_error = ?, updated_at = ?
			WHERE record_id = ? AND NOT (state = ? AND error_code = ?)`, OpFailed, why.code, why.message, now, r.id, OpFailed, protocol.CodeOutcomeUnknown); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE record_id = ?", r.id).Scan(&n); err != nil {
			return err
		}
		kept += n
		if err := db.purge(ctx, tx, r, goneCopy{version: r.version, outOfSight: true}); err != nil {
			return err
		}
		if kind == JournalRemoved {
			summary := "removed from this device: " + why.summary
			if n > 0 {
				summary += fmt.Sprintf("; %d unsent change(s) kept as failed", n)
			}
			if err := db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: kind, RecordID: r.id,
				Collection: r.collection, Summary: summary}); err != nil {
				return err
			}
		}
	}
	left := make([]string, len(recs))
	for i, r := range recs {
		left[i] = r.id
	}
	if err := db.redactLeft(ctx, tx, left...); err != nil {
		return err
	}
	if kind != JournalDroppedMatter {
		return nil
	}
	summary := fmt.Sprintf("you no longer have access to matter %s: %d record(s) removed from this device", arg, len(recs))
	if kept > 0 {
		summary += fmt.Sprintf("; %d unsent change(s) kept as failed", kept)
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: kind, RecordID: arg,
		Collection: model.MatterCollection, Summary: summary})
}

// serverMatter is the matter the server holds a record in: that of its
// server copy, whatever a queued move shows here; a record the server has
// never had goes by the matter shown.
func serverMatter(r recordRow) string {
	if r.base == nil {
		return r.matterID
	}
	if m := model.MatterOf(r.collection, r.id, r.base); m != "" {
		return m
	}
	return r.matterID
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// advanceCursor stores the page's cursor unless it would move back.
func (db *DB) advanceCursor(ctx context.Context, tx *sql.Tx, cursor int64) error {
	cur, err := getMeta(ctx, tx, metaCursor)
	if err != nil {
		return err
	}
	if old, _ := strconv.ParseInt(cur, 10, 64); cur != "" && cursor < old {
		return nil
	}
	return setMeta(ctx, tx, metaCursor, strconv.FormatInt(cursor, 10))
}

// ResetCursor starts a full resync, keeping pending ops and conflicts: the
// cursor goes back to 0 and every record the server gave is marked
// unconfirmed until a pull shows it again; the last page removes what the
// server no longer has. On a database that holds no copy from the server
// it only sets the cursor to 0.
func (db *DB) ResetCursor(ctx context.Context) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("reset cursor: %w", err)
	}
	defer db.leave()
	if err := db.tx(ctx, func(tx *sql.Tx) error { return db.resetCursor(ctx, tx) }); err != nil {
		return fmt.Errorf("reset cursor: %w", err)
	}
	return nil
}

func (db *DB) resetCursor(ctx context.Context, tx *sql.Tx) error {
	old, err := getMeta(ctx, tx, metaCursor)
	if err != nil {
		return err
	}
	if err := setMeta(ctx, tx, metaCursor, "0"); err != nil {
		return err
	}
	// Only copies the server gave can turn out gone; a record it never had
	// holds its own unsent create.
	res, err := tx.ExecContext(ctx, "UPDATE records SET resync_mark = 1 WHERE resync_mark = 0 AND base_fields IS NOT NULL")
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 && (old == "" || old == "0") {
		// A pull from 0 with nothing from the server held, or a resync
		// already running (its marks stand): it starts as on a new device.
		return nil
	}
	if err := setMeta(ctx, tx, metaResync, "1"); err != nil {
		return err
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalReset,
		Summary: "full resync from the server started; unsent changes and conflicts are kept"})
}

// finishResync ends a full resync: records the server did not show again
// are gone there, and go here too unless they hold queued ops.
func (db *DB) finishResync(ctx context.Context, tx *sql.Tx) error {
	flag, err := getMeta(ctx, tx, metaResync)
	if err != nil || flag != "1" {
		return err
	}
	return db.endResync(ctx, tx)
}

// endResync is finishResync's work, once a resync is found under way.
func (db *DB) endResync(ctx context.Context, tx *sql.Tx) error {
	var err error
	_, err = tx.ExecContext(ctx, `DELETE FROM records_fts WHERE rowid IN (SELECT rid FROM records r WHERE resync_mark = 1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id))`)
	if err != nil {
		return err
	}
	// They leave out of sight, as dropRecords' do (purge), their values
	// taken out of the journal.
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO gone_records (record_id, collection, version, out_of_sight, fields)
		SELECT id, collection, version, 1, NULL FROM records r WHERE resync_mark = 1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id)`)
	if err != nil {
		return err
	}
	left, err := distinctRecords(ctx, tx, `SELECT id FROM records r WHERE resync_mark = 1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id)`)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE resync_mark = 1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = records.id)`)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if err := db.redactLeft(ctx, tx, left...); err != nil {
		return err
	}
	// What is left unshown holds queued ops. Of a record the server once
	// had, the server no longer shows its copy: it was deleted there, or
	// its matter is out of this user's sight, and which the compacted
	// history no longer tells. Remove it as a lost matter's records are —
	// keeping a copy could show what the user may no longer see, and no
	// pull would ever correct it — with its unsent changes kept as failed
	// ops. A record the server never had is this device's own work: keep it.
	if err := db.dropRecords(ctx, tx, JournalRemoved, notShown, "resync_mark = ? AND base_fields IS NOT NULL", "1"); err != nil {
		return err
	}
	// Records that left before, deleted on the server, in a matter the
	// resync no longer shows (lost, or deleted and compacted: the history
	// cannot tell), leave the user's sight with it.
	shown, err := distinctRecords(ctx, tx, "SELECT id FROM records WHERE collection = ?", model.MatterCollection)
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(shown))
	for _, m := range shown {
		present[m] = true
	}
	if err := db.leaveSightWith(ctx, tx, func(m string) bool { return !present[m] }); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE records SET resync_mark = 0 WHERE resync_mark = 1"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM meta WHERE key = ?", metaResync); err != nil {
		return err
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalReset,
		Summary: fmt.Sprintf("full resync finished; %d record(s) the server no longer has were removed", n)})
}
