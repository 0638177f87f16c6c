package localdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"casefile/model"
)

const conflictCols = "record_id, collection, op_id, kind, base_version, theirs_version, fields, mine, theirs, created_at, theirs_by, theirs_at"

func (db *DB) scanConflict(s rowScanner) (model.Conflict, error) {
	var c model.Conflict
	var fields string
	var mine, theirs sql.NullString
	var created, theirsAt int64
	if err := s.Scan(&c.RecordID, &c.Collection, &c.OpID, &c.Kind, &c.BaseVersion, &c.TheirsVersion,
		&fields, &mine, &theirs, &created, &c.TheirsBy, &theirsAt); err != nil {
		return c, err
	}
	c.CreatedAt = fromNanos(created)
	if theirsAt != 0 {
		c.TheirsAt = fromNanos(theirsAt)
	}
	var err error
	if c.TheirsBy, err = db.openString(c.TheirsBy, conflictPlace("theirs_by", &c)); err != nil {
		return c, err
	}
	if fields, err = db.openString(fields, conflictPlace("fields", &c)); err != nil {
		return c, err
	}
	if mine, err = db.openText(mine, conflictPlace("mine", &c)); err != nil {
		return c, err
	}
	if theirs, err = db.openText(theirs, conflictPlace("theirs", &c)); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(fields), &c.Fields); err != nil {
		return c, fmt.Errorf("decode conflict fields: %w", err)
	}
	for i := range c.Fields {
		fc := &c.Fields[i]
		fc.Base, fc.Mine, fc.Theirs = normalizeAny(fc.Base), normalizeAny(fc.Mine), normalizeAny(fc.Theirs)
	}
	if c.Mine, err = decodeFields(mine); err != nil {
		return c, err
	}
	c.Theirs, err = decodeFields(theirs)
	return c, err
}

// normalizeAny turns a decoded JSON list of strings into []string.
func normalizeAny(v any) any {
	if list, ok := v.([]any); ok {
		tags := make([]string, 0, len(list))
		for _, e := range list {
			if s, ok := e.(string); ok {
				tags = append(tags, s)
			}
		}
		return tags
	}
	return v
}

// Conflicts returns every open conflict, oldest first.
func (db *DB) Conflicts(ctx context.Context) ([]model.Conflict, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	defer db.leave()
	rows, err := db.r.QueryContext(ctx, "SELECT "+conflictCols+" FROM conflicts ORDER BY created_at, record_id")
	if err != nil {
		return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
	}
	defer rows.Close()
	out := []model.Conflict{}
	for rows.Next() {
		c, err := db.scanConflict(rows)
		if err != nil {
			return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", mapErr(err))
	}
	return out, nil
}

// Conflict returns the open conflict of one record.
func (db *DB) Conflict(ctx context.Context, recordID string) (model.Conflict, error) {
	if err := db.enter(); err != nil {
		return model.Conflict{}, fmt.Errorf("read conflict: %w", err)
	}
	defer db.leave()
	return db.getConflict(ctx, db.r, recordID)
}

func (db *DB) getConflict(ctx context.Context, q querier, recordID string) (model.Conflict, error) {
	c, err := db.scanConflict(q.QueryRowContext(ctx, "SELECT "+conflictCols+" FROM conflicts WHERE record_id = ?", recordID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("record %s: %w", recordID, ErrConflict)
	}
	if err != nil {
		return c, fmt.Errorf("read conflict: %w", mapErr(err))
	}
	return c, nil
}
