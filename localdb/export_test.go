package localdb

import (
	"database/sql"

	"casefile/model"
)

// PullJournalEach exposes pullJournalEach to the model tests (package
// localdb_test).
const PullJournalEach = pullJournalEach

// CopyFile exposes copyFile (a missing file copies nothing) to the model
// tests' crash step.
var CopyFile = copyFile

// HoldSnapshot exposes holdSnapshot to the crash step, which copies the
// files under it.
var HoldSnapshot = holdSnapshot

// DecodeFieldsJSON decodes an op's FieldsJSON (NextPushBatch) as the
// outbox's own text is decoded: tag lists as []string, nil for none.
func DecodeFieldsJSON(b []byte) (model.Fields, error) {
	return decodeFields(sql.NullString{String: string(b), Valid: b != nil})
}

// ServerCopy is a record's server copy as this device holds it (base_fields,
// base_deleted), for the model tests.
type ServerCopy struct {
	Fields  model.Fields
	Deleted bool
}

// ServerCopies reads every record's server copy.
func ServerCopies(db *DB) (map[string]ServerCopy, error) {
	rows, err := db.r.Query("SELECT " + recordsSelect + " FROM records")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ServerCopy{}
	for rows.Next() {
		r, err := db.scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out[r.id] = ServerCopy{Fields: r.base, Deleted: r.baseDeleted}
	}
	return out, rows.Err()
}
