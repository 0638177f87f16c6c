package localdb

import (
	"context"
	"database/sql"
	"fmt"

	"casefile/model"
	"casefile/protocol"
)

// RejectedField is a field the server refused in a record's failed op: an
// editor opens the record with it marked.
type RejectedField struct {
	Collection string            `json:"collection"`
	Field      string            `json:"field"`
	Kind       model.ProblemKind `json:"kind"` // unknown_field, required or invalid
}

// saveProblems replaces what is kept of the fields the server refused in
// op seq: their names and kinds, never their values.
func saveProblems(ctx context.Context, tx *sql.Tx, seq int64, probs model.Problems) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM op_problems WHERE seq = ?", seq); err != nil {
		return err
	}
	for _, p := range probs {
		kind := p.Kind
		if kind == "" {
			kind = model.ProblemInvalid
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO op_problems (seq, collection, field, kind) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, seq, p.Collection, p.Field, kind); err != nil {
			return err
		}
	}
	return nil
}

// RejectedFields lists the fields the server refused in the record's
// failed ops, in queue order: what the person must change (or what this
// device's schema does not know, when the server's differs).
func (db *DB) RejectedFields(ctx context.Context, recordID string) ([]RejectedField, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("read rejected fields: %w", err)
	}
	defer db.leave()
	rows, err := db.r.QueryContext(ctx, `SELECT p.collection, p.field, p.kind FROM op_problems p
		JOIN outbox o ON o.seq = p.seq
		WHERE o.record_id = ? AND o.state = ? ORDER BY o.seq, p.field`, recordID, OpFailed)
	if err != nil {
		return nil, fmt.Errorf("read rejected fields: %w", mapErr(err))
	}
	defer rows.Close()
	var out []RejectedField
	for rows.Next() {
		var f RejectedField
		if err := rows.Scan(&f.Collection, &f.Field, &f.Kind); err != nil {
			return nil, fmt.Errorf("read rejected fields: %w", mapErr(err))
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rejected fields: %w", mapErr(err))
	}
	return out, nil
}

// schemaRefused reports an op the server refused because this device's
// schema differs from its own: an edit cannot fix what the device's
// schema does not know, so edits queue behind it instead of sending it
// again and again (see enqueue).
func (o opRow) schemaRefused() bool {
	return o.state == OpFailed && o.errorCode == protocol.CodeSchemaMismatch
}
