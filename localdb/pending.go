package localdb

// Sync-side methods still being written; they keep their final signatures.

import (
	"context"
	"errors"
	"time"

	"casefile/model"
	"casefile/protocol"
)

var errTODO = errors.New("localdb: not implemented yet")

func (db *DB) recoverSyncing(ctx context.Context) error { return nil }

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

// Doctor checks integrity and queue sanity; with repair it fixes what it can.
func (db *DB) Doctor(ctx context.Context, repair bool) (Report, error) { return Report{}, errTODO }
