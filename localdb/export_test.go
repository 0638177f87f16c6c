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

// WithCommitWatch exposes withCommitWatch to the model tests, which hold
// every commit but those unsynced by design to waiting for the disk.
var WithCommitWatch = withCommitWatch

// DecodeFieldsJSON decodes an op's FieldsJSON (NextPushBatch) as the
// outbox's own text is decoded: tag lists as []string, nil for none.
func DecodeFieldsJSON(b []byte) (model.Fields, error) {
	return decodeFields(sql.NullString{String: string(b), Valid: b != nil})
}
