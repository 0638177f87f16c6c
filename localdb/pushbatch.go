package localdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"casefile/model"
	"casefile/protocol"
)

// Statements over a whole batch take its ids as one JSON array, expanded
// by json_each: one statement text whatever the batch's size, so the
// prepared statement is reused (internal/stmtcache).
const inIDs = "IN (SELECT value FROM json_each(?))"

// idList is ids as the JSON array inIDs binds.
func idList[T any](ids []T) string {
	b, _ := json.Marshal(ids) // strings and integers always marshal
	return string(b)
}

// pushBatch is what one batch of push answers touches, read once at its
// start: the answered ops still queued, their records, how many ops each
// record has queued, and which records have an open conflict. Fields stay
// as stored until a path needs them: a simple ack journals the op's
// fields as their stored text and compares the record's as text.
type pushBatch struct {
	ops      map[string]opText    // by op id
	records  map[string]recordRow // fields and base not decoded (fieldsJSON set)
	queued   map[string]int
	conflict map[string]bool
	// oneByOne keeps every answer off the simple path (DB.pushOneByOne).
	oneByOne bool
	// journal holds the simple acks' journal rows not yet written: they
	// go many to a statement, before any other answer's entry, so that
	// the journal keeps the answers' order.
	journal [][]any
}

func (db *DB) loadPushBatch(ctx context.Context, tx *sql.Tx, results []protocol.OpResult, sent []OutboxOp) (*pushBatch, error) {
	b := &pushBatch{ops: map[string]opText{}, records: map[string]recordRow{}, queued: map[string]int{}, conflict: map[string]bool{},
		oneByOne: db.pushOneByOne}
	opIDs := make([]string, len(results))
	for i, res := range results {
		opIDs[i] = res.OpID
	}
	ops, known, err := db.batchOps(ctx, tx, opIDs, sent)
	if err != nil {
		return nil, err
	}
	recordIDs := make([]string, 0, len(ops))
	for _, o := range ops {
		b.ops[o.OpID] = o
		recordIDs = append(recordIDs, o.RecordID)
	}
	if len(recordIDs) == 0 {
		return b, nil
	}
	ids := idList(recordIDs)
	if err := db.batchRecords(ctx, tx, ids, b.records, known); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT record_id, count(*) FROM outbox WHERE record_id "+inIDs+" GROUP BY record_id", ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, err
		}
		b.queued[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	conflicts, err := distinctRecords(ctx, tx, "SELECT record_id FROM conflicts WHERE record_id "+inIDs, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range conflicts {
		b.conflict[id] = true
	}
	return b, nil
}

// batchOps reads the ops opIDs names that are still queued. An op still
// in flight as sent handed it out (NextPushBatch), with its fields' text
// as stored, takes that text from sent rather than reading and opening it
// again; the others are read in full. known maps the journal entry of
// each op whose text came from sent to that text.
func (db *DB) batchOps(ctx context.Context, tx *sql.Tx, opIDs []string, sent []OutboxOp) (ops []opText, known map[int64]string, err error) {
	handed := make(map[string]*OutboxOp, len(sent))
	for i := range sent {
		if sent[i].claimed.stored {
			handed[sent[i].OpID] = &sent[i]
		}
	}
	if len(handed) == 0 {
		ops, err = db.queryOpTexts(ctx, tx, "WHERE op_id "+inIDs, idList(opIDs))
		return ops, nil, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+opCols+", fields_entry, exported, imported FROM outbox WHERE op_id "+inIDs, idList(opIDs))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	known = make(map[int64]string, len(handed))
	ops = make([]opText, 0, len(opIDs))
	var again []string
	for rows.Next() {
		var exported, imported bool
		t, err := scanOpRaw(rows, &exported, &imported)
		if err != nil {
			return nil, nil, err
		}
		t.exported, t.imported = exported, imported // exported: marked since it was handed out, maybe
		h := handed[t.OpID]
		if h == nil || !h.stillAsHanded(t) {
			again = append(again, t.OpID)
			continue
		}
		t.fields = sql.NullString{String: string(h.FieldsJSON), Valid: h.FieldsJSON != nil}
		if t.base, err = db.openText(t.base, opPlace("base_values", &t.opRow)); err != nil {
			return nil, nil, err
		}
		if t.entry.Valid {
			known[t.entry.Int64] = t.fields.String
		}
		ops = append(ops, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(again) > 0 {
		more, err := db.queryOpTexts(ctx, tx, "WHERE op_id "+inIDs, idList(again))
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, more...)
	}
	return ops, known, nil
}

// stillAsHanded reports whether t, the op's row as stored now, is still
// in flight as o was handed out: nothing has taken it again, put it back
// or rewritten it since.
func (o *OutboxOp) stillAsHanded(t opText) bool {
	return t.state == OpSyncing && t.attempts == o.Attempts && t.updatedAt == nanos(o.UpdatedAt) &&
		t.entry == o.claimed.entry
}

// batchRecords is loadRecordTexts for the records of a batch: a record
// whose values are a journal entry in known (entryRef) takes that text
// rather than reading and opening the entry again.
func (db *DB) batchRecords(ctx context.Context, q querier, ids string, into map[string]recordRow, known map[int64]string) error {
	if len(known) == 0 {
		return db.loadRecordTexts(ctx, q, ids, into)
	}
	rows, err := q.QueryContext(ctx, "SELECT "+recordCols+", NULL, NULL FROM records WHERE id "+inIDs, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	var again []string
	for rows.Next() {
		r, err := db.scanRecordKnown(rows, false, known)
		if errors.Is(err, errEntryNotRead) {
			again = append(again, r.id)
			continue
		}
		if err != nil {
			return err
		}
		into[r.id] = r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(again) == 0 {
		return nil
	}
	return db.loadRecordTexts(ctx, q, idList(again), into)
}

// loadRecords reads the rows of the records in ids (a JSON array) into into.
func (db *DB) loadRecords(ctx context.Context, q querier, ids string, into map[string]recordRow) error {
	return db.readRecords(ctx, q, ids, into, true)
}

// loadRecordTexts is loadRecords leaving fields and base undecoded.
func (db *DB) loadRecordTexts(ctx context.Context, q querier, ids string, into map[string]recordRow) error {
	return db.readRecords(ctx, q, ids, into, false)
}

func (db *DB) readRecords(ctx context.Context, q querier, ids string, into map[string]recordRow, decode bool) error {
	rows, err := q.QueryContext(ctx, "SELECT "+recordsSelect+" FROM records WHERE id "+inIDs, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := db.scanRecordRow(rows, decode)
		if err != nil {
			return err
		}
		into[r.id] = r
	}
	return rows.Err()
}

// simpleAcks picks the answers whose effect needs nothing beyond the batch
// as loaded: an applied or merged op carrying the server's copy, the only
// op its record has queued, whose record no other answer of the batch
// touches. Nothing queued stands on it, so there is nothing to rebase,
// and the record becomes the server's copy. Every other answer takes the
// general path, one op at a time.
func (b *pushBatch) simpleAcks(results []protocol.OpResult) map[string]bool {
	if b.oneByOne {
		return nil
	}
	perRecord := map[string]int{}
	for _, res := range results {
		if o, ok := b.ops[res.OpID]; ok {
			perRecord[o.RecordID]++
		}
	}
	simple := map[string]bool{}
	for _, res := range results {
		o, ok := b.ops[res.OpID]
		if !ok || res.Record == nil || (res.Result != model.ResultApplied && res.Result != model.ResultMerged) ||
			mayMeet(o.opRow, res) {
			continue
		}
		if perRecord[o.RecordID] == 1 && b.queued[o.RecordID] == 1 {
			simple[res.OpID] = true
		}
	}
	return simple
}

// ackSummary is the journal's sentence for an applied or merged answer.
func ackSummary(op opRow, res protocol.OpResult, version int64) string {
	summary := fmt.Sprintf("the server %s the %s", res.Result, op.Kind)
	if version > 0 {
		summary += fmt.Sprintf(" (version %d)", version)
	}
	if len(res.Dropped) > 0 {
		summary += "; it kept its own value of " + strings.Join(res.Dropped, ", ")
	}
	if op.Kind == model.OpCreate && res.Message != "" {
		// A create of a record the server already had: its copy stands.
		summary += "; " + strings.TrimSuffix(strings.ToLower(res.Message[:1])+res.Message[1:], ".")
	}
	return summary
}

// msgOutOfSight is why a conflict answered without its record failed.
const msgOutOfSight = "The server no longer shows you this record (its matter was taken from you, or it moved out of your matters); the change was not applied."

// applyResults applies a batch of push answers in tx: the simple acks from
// the batch read once, the rest one at a time as before, in the answers'
// order. Answers for ops no longer queued are ignored. An answer this
// device takes as a conflict for review (a create that met the server's
// own copy of its record: metFields) is rewritten in results as the
// conflict it became, and a conflict without its record as the refusal
// it stands for, so that the caller counts and shows what the device
// holds.
func (db *DB) applyResults(ctx context.Context, tx *sql.Tx, given []protocol.OpResult, sent []OutboxOp) error {
	for i, res := range given {
		if res.Result == model.ResultConflict && res.Record == nil {
			// A server before hidden conflicts were refused answers a
			// conflict sent again, once its record is out of the user's
			// sight, without the record: it is what a server now answers,
			// never the record's delete.
			given[i] = protocol.OpResult{OpID: res.OpID, Result: model.ResultRejected, Code: protocol.CodeNotFound, Message: msgOutOfSight}
		}
	}
	results, err := withSentFields(given, sent)
	if err != nil {
		return err
	}
	b, err := db.loadPushBatch(ctx, tx, results, sent)
	if err != nil {
		return err
	}
	simple := b.simpleAcks(results)
	if len(simple) > 0 {
		seqs := make([]int64, 0, len(simple))
		for id := range simple {
			seqs = append(seqs, b.ops[id].seq)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE seq "+inIDs, idList(seqs)); err != nil {
			return err
		}
	}
	for i, res := range results {
		t, ok := b.ops[res.OpID]
		if !ok {
			continue
		}
		if simple[res.OpID] {
			if err := db.applySimpleAck(ctx, tx, b, t, res); err != nil {
				return err
			}
			continue
		}
		if err := b.flushJournal(ctx, tx); err != nil {
			return err
		}
		op, err := t.decode()
		if err != nil {
			return err
		}
		met := metFields(op, res, db.schema)
		switch {
		case len(met) > 0:
			res = createMet(res, met)
			given[i].Result, given[i].ConflictFields, given[i].Message = res.Result, res.ConflictFields, res.Message
			err = db.applyConflict(ctx, tx, op, res)
		case res.Result == model.ResultApplied, res.Result == model.ResultMerged:
			err = db.applyAck(ctx, tx, op, res)
		case res.Result == model.ResultConflict:
			err = db.applyConflict(ctx, tx, op, res)
		case res.Result == model.ResultRejected:
			err = db.applyRejected(ctx, tx, op, res.Code, res.Message, res.Problems)
		default:
			err = fmt.Errorf("op %s: unknown result %q", op.OpID, res.Result)
		}
		if err != nil {
			return err
		}
	}
	if err := b.flushJournal(ctx, tx); err != nil {
		return err
	}
	// An answer to an op whose record left out of sight while it was on
	// the way (the pull that dropped its matter came first) took the op
	// that kept the entry it names for its fields: the entry's values go
	// now, as they went with the record's other entries (redactLeft picks
	// the records that left out of sight).
	var missing []string
	for _, res := range results {
		if t, ok := b.ops[res.OpID]; ok {
			if _, here := b.records[t.RecordID]; !here {
				missing = append(missing, t.RecordID)
			}
		}
	}
	return db.redactLeft(ctx, tx, missing...)
}
