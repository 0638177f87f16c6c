package localdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"casefile/model"
)

// The one-row insert of a journal entry, and the row shape of its
// multi-row form (rowsSQL).
const (
	journalEntryInsert = `INSERT INTO journal (at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version) VALUES `
	journalEntryShape  = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// journal appends one entry; At defaults to now.
func (db *DB) journal(ctx context.Context, q querier, e JournalEntry) error {
	after, err := encodeNullable(e.After)
	if err != nil {
		return err
	}
	row, err := db.journalRow(e, after)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, journalEntryInsert+journalEntryShape, row...)
	return err
}

// journalRow is the column values of e in journalEntryShape's order, its
// text sealed. after is e.After already encoded (encodeNullable), which
// is read in its place; At defaults to now.
func (db *DB) journalRow(e JournalEntry, after any) ([]any, error) {
	if e.At.IsZero() {
		e.At = db.now()
	}
	before, err := encodeNullable(e.Before)
	if err != nil {
		return nil, err
	}
	at := nanos(e.At)
	return []any{at, e.Actor, e.Kind, e.RecordID, e.Collection, e.OpID, db.sealText(e.Summary, journalPlace("summary", &e, at)),
		db.sealNullable(before, journalPlace("before", &e, at)), db.sealNullable(after, journalPlace("after", &e, at)),
		e.Undoes, e.Version}, nil
}

// Journal returns journal entries, newest first.
func (db *DB) Journal(ctx context.Context, q JournalQuery) ([]JournalEntry, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer db.leave()
	var conds []string
	var args []any
	if q.RecordID != "" {
		conds = append(conds, "record_id = ?")
		args = append(args, q.RecordID)
	}
	if q.AfterSeq > 0 {
		conds = append(conds, "seq > ?")
		args = append(args, q.AfterSeq)
	}
	query := "SELECT " + journalCols + " FROM journal"
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY seq DESC"
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", mapErr(err))
	}
	defer rows.Close()
	out := []JournalEntry{}
	for rows.Next() {
		e, err := db.scanJournal(rows)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", mapErr(err))
	}
	return out, nil
}

// journalCols are the columns scanJournal reads: the entry's own, then,
// for an entry whose after is another entry's (entryRef), that entry's
// after and the op, kind and time its place names.
const journalCols = "seq, at, actor, kind, record_id, collection, op_id, summary, before, after, undoes, version, " +
	"(SELECT r.after FROM journal r WHERE r.seq = " + journalAfterRef + "), " +
	"(SELECT r.op_id || '|' || r.kind || '|' || r.at FROM journal r WHERE r.seq = " + journalAfterRef + ")"

// journalAfterRef is the seq journal.after refers to, NULL when it holds
// the values themselves.
const journalAfterRef = "CASE WHEN substr(journal.after, 1, 1) = '" + entryRef + "' THEN CAST(substr(journal.after, 2) AS INTEGER) END"

// journalAfterCol is after's place in journalRow.
const journalAfterCol = 8

// scanJournal reads one journal row of journalCols, its sealed text opened.
func (db *DB) scanJournal(s rowScanner) (JournalEntry, error) {
	var e JournalEntry
	var at int64
	var before, after, refAfter, refPlace sql.NullString
	if err := s.Scan(&e.Seq, &at, &e.Actor, &e.Kind, &e.RecordID, &e.Collection, &e.OpID, &e.Summary, &before, &after, &e.Undoes, &e.Version,
		&refAfter, &refPlace); err != nil {
		return e, mapErr(err)
	}
	e.At = fromNanos(at)
	var err error
	if e.Summary, err = db.openString(e.Summary, journalPlace("summary", &e, at)); err != nil {
		return e, err
	}
	if before, err = db.openText(before, journalPlace("before", &e, at)); err != nil {
		return e, err
	}
	if after.Valid && strings.HasPrefix(after.String, entryRef) {
		after, err = db.openEntryOf(e.Collection, e.RecordID, refAfter, refPlace)
	} else {
		after, err = db.openText(after, journalPlace("after", &e, at))
	}
	if err != nil {
		return e, fmt.Errorf("journal entry %d: %w", e.Seq, err)
	}
	if e.Before, err = decodeFields(before); err != nil {
		return e, err
	}
	e.After, err = decodeFields(after)
	return e, err
}

// KeepDraft writes a form's unsaved values to the journal, sealed as its
// other values are, when casefile is stopped (a signal, the terminal
// closed) while the person was typing: nothing is queued or changed, and
// `casefile journal` shows what they had typed. recordID is "" for a
// record not yet made.
func (db *DB) KeepDraft(ctx context.Context, collection, recordID string, fields model.Fields) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("keep the unsaved form: %w", err)
	}
	defer db.leave()
	what := "a new " + collection
	if recordID != "" {
		what = "an edit of this " + collection
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalDraft, RecordID: recordID, Collection: collection,
			Summary: "the unsaved form of " + what + ", kept when casefile was stopped; nothing was saved or sent", After: fields})
	})
	if err != nil {
		return wrapWrite("keep the unsaved form", err)
	}
	return nil
}
