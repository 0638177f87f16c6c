package localdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"casefile/model"
)

// QueueDownload queues the download of an attached file unless it is on
// this device or already queued; it reports whether it queued one.
func (db *DB) QueueDownload(ctx context.Context, id string) (bool, error) {
	if err := db.enter(); err != nil {
		return false, fmt.Errorf("queue download: %w", err)
	}
	defer db.leave()
	f, err := db.File(ctx, id)
	if err != nil {
		return false, err
	}
	if f.Local {
		return false, nil
	}
	if !model.ValidSHA256(f.SHA256) {
		return false, fmt.Errorf("download %s: %s", id, f.Error)
	}
	var queued bool
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO transfers (attachment_id, direction, hash, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (attachment_id, direction) DO UPDATE SET state = excluded.state, next_attempt = 0, last_error = ''
			WHERE transfers.state = 'failed'`,
			id, Download, f.SHA256, f.Size, TransferQueued, nanos(db.now()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		queued = n > 0
		return nil
	})
	return queued, err
}

// TransferOf returns one queued transfer, or ErrNotFound.
func (db *DB) TransferOf(ctx context.Context, id string, dir Direction) (Transfer, error) {
	if err := db.enter(); err != nil {
		return Transfer{}, fmt.Errorf("transfer of: %w", err)
	}
	defer db.leave()
	ts, err := db.transfers(ctx, `SELECT attachment_id, direction, hash, size, state, done_bytes, attempts, last_error FROM transfers
		WHERE attachment_id = ? AND direction = ?`, id, dir)
	if err != nil {
		return Transfer{}, err
	}
	if len(ts) == 0 {
		return Transfer{}, ErrNotFound
	}
	return ts[0], nil
}

// Transfers returns the transfer queue, oldest first.
func (db *DB) Transfers(ctx context.Context) ([]Transfer, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("transfers: %w", err)
	}
	defer db.leave()
	return db.transfers(ctx, `SELECT attachment_id, direction, hash, size, state, done_bytes, attempts, last_error FROM transfers ORDER BY created_at, attachment_id, direction`)
}

// DueTransfers returns queued transfers due at now, uploads first (a file
// only this device holds matters more than one the server holds).
func (db *DB) DueTransfers(ctx context.Context, now time.Time) ([]Transfer, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("due transfers: %w", err)
	}
	defer db.leave()
	return db.transfers(ctx, `SELECT attachment_id, direction, hash, size, state, done_bytes, attempts, last_error FROM transfers
		WHERE state IN (?, ?) AND next_attempt <= ? ORDER BY direction DESC, created_at, attachment_id`, TransferQueued, TransferActive, nanos(now))
}

func (db *DB) transfers(ctx context.Context, q string, args ...any) ([]Transfer, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("transfers: %w", mapErr(err))
	}
	defer rows.Close()
	var out []Transfer
	for rows.Next() {
		var t Transfer
		if err := rows.Scan(&t.AttachmentID, &t.Direction, &t.Hash, &t.Size, &t.State, &t.Done, &t.Attempts, &t.LastError); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// TransferProgress marks a transfer active with done bytes moved.
func (db *DB) TransferProgress(ctx context.Context, id string, dir Direction, done int64) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("transfer progress: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE transfers SET state = ?, done_bytes = ? WHERE attachment_id = ? AND direction = ?`,
			TransferActive, done, id, dir)
		return err
	})
}

// TransferRetry puts a transfer back in the queue, due at next, with the
// reason it stopped.
func (db *DB) TransferRetry(ctx context.Context, id string, dir Direction, reason string, next time.Time) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("transfer retry: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE transfers SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?
			WHERE attachment_id = ? AND direction = ?`, TransferQueued, reason, nanos(next), id, dir)
		return err
	})
}

// TransferFailed stops a transfer for good, with a sentence saying why,
// and journals it; QueueDownload or RetryTransfer starts it again.
func (db *DB) TransferFailed(ctx context.Context, id string, dir Direction, reason string) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("transfer failed: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE transfers SET state = ?, attempts = attempts + 1, last_error = ? WHERE attachment_id = ? AND direction = ?`,
			TransferFailed, reason, id, dir); err != nil {
			return err
		}
		return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: "file_failed", RecordID: id, Collection: model.AttachmentCollection,
			Summary: fmt.Sprintf("%s failed: %s", dirWord(dir), reason)})
	})
}

// RetryTransfer queues a failed transfer again.
func (db *DB) RetryTransfer(ctx context.Context, id string, dir Direction) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("retry transfer: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE transfers SET state = ?, next_attempt = 0, last_error = '' WHERE attachment_id = ? AND direction = ? AND state = ?`,
			TransferQueued, id, dir, TransferFailed)
		return err
	})
}

func dirWord(d Direction) string {
	if d == Upload {
		return "upload"
	}
	return "download"
}

// TransferDone ends a transfer: the file is on the server (upload) or
// verified on this device (download); journaled.
func (db *DB) TransferDone(ctx context.Context, t Transfer) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("transfer done: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM transfers WHERE attachment_id = ? AND direction = ?`, t.AttachmentID, t.Direction); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM transfer_chunks WHERE attachment_id = ?`, t.AttachmentID); err != nil {
			return err
		}
		summary := fmt.Sprintf("uploaded %d bytes", t.Size)
		if t.Direction == Download {
			summary = fmt.Sprintf("downloaded %d bytes, verified", t.Size)
			if _, err := tx.ExecContext(ctx, `INSERT INTO local_files (hash, size, origin, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
				t.Hash, t.Size, originDownloaded, nanos(db.now())); err != nil {
				return err
			}
		}
		return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalKind("file_" + string(t.Direction)), RecordID: t.AttachmentID,
			Collection: model.AttachmentCollection, Summary: summary})
	})
}

// DropTransfer forgets a transfer that has nothing left to move (its
// attachment is gone from this device), and reports whether it did. The
// upload of an attachment deleted here whose row is still here (its
// delete, or its record's, not yet synced) stays: the delete may yet be
// refused or taken back, and the attachment then needs its file on the
// server. Forgotten, the file would show uploaded, and no other device
// could ever fetch it.
func (db *DB) DropTransfer(ctx context.Context, id string, dir Direction) (bool, error) {
	if err := db.enter(); err != nil {
		return false, fmt.Errorf("drop transfer: %w", err)
	}
	defer db.leave()
	var dropped bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM transfers WHERE attachment_id = ? AND direction = ?
			AND NOT (direction = ? AND EXISTS (SELECT 1 FROM records r WHERE r.id = transfers.attachment_id))`, id, dir, Upload)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		dropped = true
		_, err = tx.ExecContext(ctx, `DELETE FROM transfer_chunks WHERE attachment_id = ? AND NOT EXISTS
			(SELECT 1 FROM transfers t WHERE t.attachment_id = ?)`, id, id)
		return err
	})
	return dropped, err
}

// ChunksHeld returns the chunks of a download already written here.
func (db *DB) ChunksHeld(ctx context.Context, id string) (map[int]bool, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("chunks held: %w", err)
	}
	defer db.leave()
	rows, err := db.r.QueryContext(ctx, `SELECT n FROM transfer_chunks WHERE attachment_id = ?`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, mapErr(rows.Err())
}

// ChunkWritten notes a download chunk written and synced to disk, and
// the bytes done so far.
func (db *DB) ChunkWritten(ctx context.Context, id string, n int, done int64) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("chunk written: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO transfer_chunks (attachment_id, n) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE transfers SET state = ?, done_bytes = ? WHERE attachment_id = ? AND direction = ?`,
			TransferActive, done, id, Download)
		return err
	})
}

// ForgetChunks forgets a download's chunks, to fetch them all again.
func (db *DB) ForgetChunks(ctx context.Context, id string) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("forget chunks: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM transfer_chunks WHERE attachment_id = ?`, id)
		return err
	})
}

// SetKeepOffline sets a matter's choice of files kept on this device.
func (db *DB) SetKeepOffline(ctx context.Context, matterID string, mode KeepOffline) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("set keep offline: %w", err)
	}
	defer db.leave()
	switch mode {
	case KeepAll, KeepSmall, KeepNone:
	default:
		return fmt.Errorf("keep offline: %q is not one of all, small, none", mode)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO keep_offline (matter_id, mode) VALUES (?, ?) ON CONFLICT (matter_id) DO UPDATE SET mode = excluded.mode`,
			matterID, mode)
		return err
	})
}

// KeepOfflineOf returns a matter's choice (KeepSmall when none was made).
func (db *DB) KeepOfflineOf(ctx context.Context, matterID string) (KeepOffline, error) {
	if err := db.enter(); err != nil {
		return "", fmt.Errorf("keep offline of: %w", err)
	}
	defer db.leave()
	var m KeepOffline
	err := db.r.QueryRowContext(ctx, `SELECT mode FROM keep_offline WHERE matter_id = ?`, matterID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return KeepSmall, nil
	}
	return m, mapErr(err)
}

// offlineCandidates selects the files to keep offline that are neither here
// nor moving (parameters: the attachment collection, the small size).
// Sealed fields are decrypted in the query (sqlRecordFields).
func (db *DB) offlineCandidates() string {
	f := db.sqlRecordFields("r", "fields")
	return `SELECT r.id AS id, json_extract(` + f + `, '$.sha256') AS hash, CAST(json_extract(` + f + `, '$.size') AS INTEGER) AS size
	FROM records r LEFT JOIN keep_offline k ON k.matter_id = r.matter_id
	WHERE r.collection = ? AND r.deleted = 0 AND r.base_fields IS NOT NULL
	  AND length(json_extract(` + f + `, '$.sha256')) = 64
	  AND (COALESCE(k.mode, 'small') = 'all' OR (COALESCE(k.mode, 'small') = 'small' AND json_extract(` + f + `, '$.size') <= ?))
	  AND NOT EXISTS (SELECT 1 FROM local_files l WHERE l.hash = json_extract(` + f + `, '$.sha256'))
	  AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.attachment_id = r.id)`
}

// QueueOffline queues the download of every file this device should keep
// by its matter's choice — all, or those up to small bytes — that is not
// here and not moving; it returns how many it queued.
func (db *DB) QueueOffline(ctx context.Context, small int64) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("queue offline: %w", err)
	}
	defer db.leave()
	// A read first: most passes find nothing to queue and take no write
	// lock (the record sync shares it).
	var want int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+db.offlineCandidates()+`)`, model.AttachmentCollection, small).Scan(&want); err != nil {
		return 0, fmt.Errorf("queue offline: %w", mapErr(err))
	}
	if want == 0 {
		return 0, nil
	}
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO transfers (attachment_id, direction, hash, size, state, created_at)
			SELECT id, ?, hash, size, ?, ? FROM (`+db.offlineCandidates()+`)`, // #nosec G202 -- constant SQL; values are parameters
			Download, TransferQueued, nanos(db.now()), model.AttachmentCollection, small)
		if err != nil {
			return err
		}
		c, _ := res.RowsAffected()
		n = int(c)
		return nil
	})
	return n, err
}

// unusedFiles selects the local files nothing needs (parameters: the
// attachment collection, three times).
// Sealed fields are decrypted in the query (sqlRecordFields, sqlOpFields).
func (db *DB) unusedFiles() string {
	return `SELECT l.hash FROM local_files l
	WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.collection = ? AND json_extract(` + db.sqlRecordFields("r", "fields") + `, '$.sha256') = l.hash)
	  AND NOT EXISTS (SELECT 1 FROM records r WHERE r.collection = ? AND json_extract(` + db.sqlRecordFields("r", "base_fields") + `, '$.sha256') = l.hash)
	  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.collection = ? AND json_extract(` + db.sqlOpFields("o") + `, '$.sha256') = l.hash)
	  AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.hash = l.hash)`
}

// CollectFiles drops download transfers of attachments no longer here
// and deletes the local files nothing needs any more: no attachment record
// on this device names them (a deleted one does until the server's
// tombstone goes; a lost matter's are gone), no queued op carries them and
// no transfer moves them. remove deletes a file's bytes; it runs inside
// the write transaction, so an attach of the same bytes waits for it.
func (db *DB) CollectFiles(ctx context.Context, remove func(hash string) error) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("collect files: %w", err)
	}
	defer db.leave()
	// A read first: most passes find nothing to collect and take no write
	// lock (the record sync shares it).
	var work int
	if err := db.r.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM transfers t WHERE t.direction = ?
			AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = t.attachment_id AND r.deleted = 0)) +
		(SELECT COUNT(*) FROM (`+db.unusedFiles()+`))`, Download, model.AttachmentCollection, model.AttachmentCollection, model.AttachmentCollection).Scan(&work); err != nil {
		return 0, fmt.Errorf("collect files: %w", mapErr(err))
	}
	if work == 0 {
		return 0, nil
	}
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM transfers WHERE direction = ?
			AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = transfers.attachment_id AND r.deleted = 0)`, Download); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM transfer_chunks
			WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.attachment_id = transfer_chunks.attachment_id)`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.unusedFiles()+` ORDER BY l.hash`, model.AttachmentCollection, model.AttachmentCollection, model.AttachmentCollection)
		if err != nil {
			return err
		}
		var unused []string
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			unused = append(unused, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range unused {
			if _, err := tx.ExecContext(ctx, `DELETE FROM local_files WHERE hash = ?`, h); err != nil {
				return err
			}
			if err := remove(h); err != nil {
				return fmt.Errorf("remove file %s: %w", h, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("collect files: %w", err)
	}
	return n, nil
}

// UnnamedFiles returns those of hashes that nothing on this device names:
// no local file row, no transfer, no attachment record (its fields or its
// base) and no queued op. Most hashes are local files, found through that
// table's key; only those left over are looked for elsewhere, which
// opens every attachment record's fields.
// Sealed fields are decrypted in the query (sqlRecordFields, sqlOpFields).
func (db *DB) UnnamedFiles(ctx context.Context, hashes []string) ([]string, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("unnamed files: %w", err)
	}
	defer db.leave()
	if len(hashes) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(hashes)
	if err != nil {
		return nil, err
	}
	left, err := db.hashes(ctx, `SELECT c.value FROM json_each(?) c
		WHERE NOT EXISTS (SELECT 1 FROM local_files l WHERE l.hash = c.value)`, string(list))
	if err != nil || len(left) == 0 {
		return nil, err
	}
	if list, err = json.Marshal(left); err != nil {
		return nil, err
	}
	// The names are gathered once (MATERIALIZED), not per hash.
	return db.hashes(ctx, `WITH named(h) AS MATERIALIZED (
			SELECT hash FROM transfers
			UNION SELECT json_extract(`+db.sqlRecordFields("r", "fields")+`, '$.sha256') FROM records r WHERE r.collection = ?
			UNION SELECT json_extract(`+db.sqlRecordFields("r", "base_fields")+`, '$.sha256') FROM records r WHERE r.collection = ? AND r.base_fields IS NOT NULL
			UNION SELECT json_extract(`+db.sqlOpFields("o")+`, '$.sha256') FROM outbox o WHERE o.collection = ?)
		SELECT c.value FROM json_each(?) c
		WHERE NOT EXISTS (SELECT 1 FROM local_files l WHERE l.hash = c.value)
		  AND NOT EXISTS (SELECT 1 FROM named WHERE named.h = c.value)`,
		model.AttachmentCollection, model.AttachmentCollection, model.AttachmentCollection, string(list))
}

// hashes runs a query of one text column on the read pool.
func (db *DB) hashes(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, h)
	}
	return out, mapErr(rows.Err())
}
