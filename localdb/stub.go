package localdb

// Stubs with the final signatures; replaced by the implementation.

import (
	"context"
	"errors"
	"time"

	"casefile/model"
	"casefile/protocol"
)

var errTODO = errors.New("localdb: not implemented yet")

// DB is a client's local database.
type DB struct{ schema *model.Schema }

// Open opens (creating and migrating) the database file at path.
func Open(ctx context.Context, path string, schema *model.Schema) (*DB, error) {
	return nil, errTODO
}

// Close closes the database.
func (db *DB) Close() error { return errTODO }

// Schema returns the schema the database was opened with.
func (db *DB) Schema() *model.Schema { return db.schema }

// DataVersion changes whenever any connection, in any process, commits.
func (db *DB) DataVersion(ctx context.Context) (int64, error) { return 0, errTODO }

// Create writes a new record (id "" → a new UUIDv7) with its outbox op and journal entry.
func (db *DB) Create(ctx context.Context, collection, id string, fields model.Fields) (model.Record, error) {
	return model.Record{}, errTODO
}

// Update changes fields of a record; nil values clear fields.
func (db *DB) Update(ctx context.Context, id string, changes model.Fields) (model.Record, error) {
	return model.Record{}, errTODO
}

// Delete tombstones a record until the server acknowledges the delete.
func (db *DB) Delete(ctx context.Context, id string) error { return errTODO }

// Import writes a batch of new records in one durable transaction.
func (db *DB) Import(ctx context.Context, collection string, items []ImportItem) error {
	return errTODO
}

// Resolve turns a conflict resolution into a new op and clears the conflict.
func (db *DB) Resolve(ctx context.Context, recordID string, r model.Resolution) (model.Record, error) {
	return model.Record{}, errTODO
}

// RetryOp makes a failed or retrying op due now.
func (db *DB) RetryOp(ctx context.Context, opID string) error { return errTODO }

// RetryAll makes every failed or retrying op due now and returns how many.
func (db *DB) RetryAll(ctx context.Context) (int, error) { return 0, errTODO }

// DiscardOp drops a queued op (the journal keeps it); its record falls back to the server's copy.
func (db *DB) DiscardOp(ctx context.Context, opID string) error { return errTODO }

// Get returns one record, tombstones included.
func (db *DB) Get(ctx context.Context, id string) (model.Record, error) {
	return model.Record{}, errTODO
}

// List returns a window of records.
func (db *DB) List(ctx context.Context, q ListQuery) ([]model.Record, error) { return nil, errTODO }

// Count counts the records List would return without a window.
func (db *DB) Count(ctx context.Context, q ListQuery) (int, error) { return 0, errTODO }

// CollectionCounts counts live records per collection.
func (db *DB) CollectionCounts(ctx context.Context) (map[string]int, error) { return nil, errTODO }

// Search finds records by full text.
func (db *DB) Search(ctx context.Context, text string, limit int) ([]model.Record, error) {
	return nil, errTODO
}

// Journal returns journal entries, newest first.
func (db *DB) Journal(ctx context.Context, q JournalQuery) ([]JournalEntry, error) {
	return nil, errTODO
}

// Outbox returns every queued op in queue order.
func (db *DB) Outbox(ctx context.Context) ([]OutboxOp, error) { return nil, errTODO }

// Conflicts returns every open conflict.
func (db *DB) Conflicts(ctx context.Context) ([]model.Conflict, error) { return nil, errTODO }

// Conflict returns the open conflict of one record.
func (db *DB) Conflict(ctx context.Context, recordID string) (model.Conflict, error) {
	return model.Conflict{}, errTODO
}

// Status sums up the local sync state.
func (db *DB) Status(ctx context.Context) (Status, error) { return Status{}, errTODO }

// NextBatch returns due ops, oldest first, at most one per record, and marks them syncing.
func (db *DB) NextBatch(ctx context.Context, now time.Time, limit int) ([]OutboxOp, error) {
	return nil, errTODO
}

// ApplyPushResults applies the server's answers to a batch in one transaction.
func (db *DB) ApplyPushResults(ctx context.Context, results []protocol.OpResult) error {
	return errTODO
}

// MarkRetry returns ops to the queue after a transient failure, due at next.
func (db *DB) MarkRetry(ctx context.Context, opIDs []string, errMsg string, next time.Time) error {
	return errTODO
}

// ApplyPull applies one pull page and its cursor in one transaction.
func (db *DB) ApplyPull(ctx context.Context, page protocol.PullResponse) error { return errTODO }

// ResetCursor starts a full resync, keeping pending ops and conflicts.
func (db *DB) ResetCursor(ctx context.Context) error { return errTODO }

// Meta reads a sync setting ("" when unset).
func (db *DB) Meta(ctx context.Context, key string) (string, error) { return "", errTODO }

// SetMeta writes a sync setting.
func (db *DB) SetMeta(ctx context.Context, key, value string) error { return errTODO }

// Doctor checks integrity and queue sanity; with repair it fixes what it can.
func (db *DB) Doctor(ctx context.Context, repair bool) (Report, error) { return Report{}, errTODO }
