package localdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"casefile/model"
	"casefile/protocol"
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

// refreshConflict brings the open conflict of a record, if it has one, up
// to the server's copy r that a pull just brought: the review must show,
// and "theirs" must apply, what the server holds now, not what it held
// when the conflict was met, and a resolution is sent on r's version. A
// field the newer change also made differ from the edit joins the fields
// to review; one that was in conflict stays, with the newer value.
func (db *DB) refreshConflict(ctx context.Context, tx *sql.Tx, r *protocol.Record) error {
	c, err := db.getConflict(ctx, tx, r.ID)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	if err != nil || r.Version <= c.TheirsVersion {
		return err
	}
	op, err := db.getOp(ctx, tx, c.OpID)
	if errors.Is(err, ErrNoOp) {
		return nil // resolved meanwhile: nothing to refresh
	}
	if err != nil {
		return err
	}
	col, _ := db.schema.Collection(c.Collection)
	known := map[string]model.FieldConflict{}
	for _, fc := range c.Fields {
		known[fc.Field] = fc
	}
	// The value each field had when the edit was made: what the conflict
	// already says, or what the op noted.
	// A delete notes no values; the fields it met in conflict are those
	// the server had changed, so any other still had the value the older
	// copy shows.
	oldTheirs, wasKind := c.Theirs, c.Kind
	base := func(f string) any {
		if fc, ok := known[f]; ok {
			return fc.Base
		}
		if op.Kind == model.OpDelete {
			return oldTheirs[f]
		}
		return op.baseValues[f]
	}
	c.TheirsVersion, c.TheirsBy, c.TheirsAt = r.Version, r.UpdatedBy, r.UpdatedAt
	c.Theirs = nil
	if !r.Deleted || len(r.Fields) > 0 {
		c.Theirs = normalizeWire(col, r.Fields)
	}
	switch {
	case r.Deleted && op.Kind != model.OpDelete:
		c.Kind = model.ConflictEditDeleted
		if c.Theirs == nil {
			c.Theirs = model.Fields{}
			for _, fc := range c.Fields {
				c.Theirs[fc.Field] = fc.Theirs
			}
		}
		c.Fields = editDeletedFields(c.Theirs, nil, op, base)
	case r.Deleted:
		// Both sides deleted it: nothing is left to choose between; the
		// delete's review stays as it was, on the newer version.
	default:
		names := map[string]bool{}
		if wasKind != model.ConflictEditDeleted { // which lists every field
			for f := range known {
				names[f] = true
			}
		}
		if op.Kind == model.OpDelete {
			c.Kind = model.ConflictDeleteEdit
			for f, v := range c.Theirs {
				if !model.Equal(v, base(f)) {
					names[f] = true
				}
			}
		} else {
			c.Kind = model.ConflictEdit
			for f, mine := range op.Fields {
				if !model.Equal(c.Theirs[f], base(f)) && !model.Equal(c.Theirs[f], mine) {
					names[f] = true
				}
			}
		}
		c.Fields = nil
		for _, f := range sortedNames(names) {
			fc := model.FieldConflict{Field: f, Base: base(f), Theirs: c.Theirs[f]}
			if op.Kind != model.OpDelete {
				fc.Mine = op.Fields[f]
			}
			c.Fields = append(c.Fields, fc)
		}
	}
	return db.insertConflict(ctx, tx, c, nanosOrZero(c.CreatedAt))
}
