package localdb

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"casefile/model"
)

// Salvaged is what Salvage could read of a damaged database's queue.
type Salvaged struct {
	ops []opRow
	// uploads holds the attachments whose upload the damaged file still
	// had queued, as far as its transfers could be read.
	uploads map[string]bool
	// Lost names each queued op that could not be read back, and why; when
	// the queue itself could not be listed it says so instead.
	Lost []string
}

// Ops returns the salvaged ops in queue order.
func (s *Salvaged) Ops() []OutboxOp {
	out := make([]OutboxOp, len(s.ops))
	for i, o := range s.ops {
		out[i] = o.outboxOp()
	}
	return out
}

// Salvage reads every queued op it still can from the damaged database
// file at path, one op at a time so that a bad page costs only the ops on
// it. The file is not migrated or repaired; an encrypted one needs
// WithSealer. It fails only when the file cannot be opened at all.
func Salvage(ctx context.Context, path string, opts ...Option) (*Salvaged, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	path, cleanup, err := padTruncated(path)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	sdb, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, mapErr(err))
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	db := &DB{sealer: o.sealer}
	out := &Salvaged{}
	// The queue's places, read from both ends: a bad page in the middle
	// stops a scan, and the other direction reaches the ops after it.
	type place struct {
		seq  int64
		opID string
	}
	var places []place
	seen := map[int64]bool{}
	var listErr error
	for _, query := range []string{"SELECT seq, op_id FROM outbox ORDER BY seq", "SELECT seq, op_id FROM outbox ORDER BY seq DESC"} {
		err := func() error {
			rows, err := sdb.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var p place
				if err := rows.Scan(&p.seq, &p.opID); err != nil {
					return err
				}
				if !seen[p.seq] {
					seen[p.seq] = true
					places = append(places, p)
				}
			}
			return rows.Err()
		}()
		if err != nil && listErr == nil {
			listErr = mapErr(err)
		}
	}
	if listErr != nil {
		if len(places) == 0 {
			out.Lost = append(out.Lost, fmt.Sprintf("the queue of unsent changes could not be read at all (%s)", damageWords(listErr)))
		} else {
			out.Lost = append(out.Lost, fmt.Sprintf("part of the queue of unsent changes could not be read (%s): changes queued there are not listed", damageWords(listErr)))
		}
	}
	// A file older than outbox.exported or outbox.imported has none: its
	// ops read as not marked (an import's create still referring to its
	// journal entry is known by the entry's kind).
	sel := opSelectEntry
	for _, col := range []string{"exported", "imported"} {
		// #nosec G202 -- col is one of the constant column names above.
		if _, err := sdb.ExecContext(ctx, "SELECT "+col+" FROM outbox LIMIT 0"); err != nil {
			col = "0"
		}
		sel += ", " + col
	}
	for _, p := range places {
		op, err := db.scanOp(sdb.QueryRowContext(ctx, "SELECT "+sel+" FROM outbox WHERE seq = ?", p.seq))
		if err != nil {
			out.Lost = append(out.Lost, fmt.Sprintf("change %s: %s", p.opID, damageWords(mapErr(err))))
			continue
		}
		out.ops = append(out.ops, op)
	}
	// Queue order: the scan from the end appended the later ops backwards.
	slices.SortFunc(out.ops, func(a, b opRow) int { return cmp.Compare(a.seq, b.seq) })
	out.uploads = salvageUploads(ctx, sdb)
	return out, nil
}

// salvageUploads reads, as far as the damaged file lets it, the
// attachments whose upload it had queued: an undo's restore of a file
// attached here whose bytes had not reached the server yet still needs
// them sent. What cannot be read is left out: a restore then queues none.
func salvageUploads(ctx context.Context, sdb *sql.DB) map[string]bool {
	out := map[string]bool{}
	rows, err := sdb.QueryContext(ctx, "SELECT attachment_id FROM transfers WHERE direction = ?", Upload)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if rows.Scan(&id) != nil {
			break
		}
		out[id] = true
	}
	return out
}

// damageWords says what a read of the damaged file met, without
// ErrCorrupt's advice to run the repair that is running.
func damageWords(err error) string {
	var se *storageError
	if errors.As(err, &se) && se.kind == ErrCorrupt {
		if se.detail != "" {
			return se.detail
		}
		return "a damaged page"
	}
	return err.Error()
}

// padTruncated returns path itself, or for a file cut shorter than its
// header says, a copy padded with zero pages to that length: SQLite
// refuses a whole database whose tables start past its end, while on a
// padded copy only the reads of the lost pages fail. cleanup removes the
// copy.
func padTruncated(path string) (string, func(), error) {
	none := func() {}
	f, err := os.Open(path) // #nosec G304 -- the damaged database file doctor names
	if err != nil {
		return "", none, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var head [100]byte
	fi, err := f.Stat()
	if err != nil {
		return "", none, err
	}
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return path, none, nil // too short to say: let SQLite answer
	}
	pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	want := pageSize * int64(binary.BigEndian.Uint32(head[28:32]))
	if want <= fi.Size() || want > maxSalvageBytes {
		return path, none, nil
	}
	cp := path + salvageSuffix
	out, err := os.OpenFile(cp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600) // #nosec G304 -- beside the damaged file
	if err != nil {
		return "", none, fmt.Errorf("copy %s: %w", path, err)
	}
	cleanup := func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(cp + suffix)
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	if err == nil {
		_, err = io.Copy(out, f)
	}
	if err == nil {
		err = out.Truncate(want)
	}
	if err == nil {
		// The WAL holds the latest commits: it goes along, as it is.
		err = copyFile(path+"-wal", cp+"-wal")
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", none, fmt.Errorf("copy %s: %w", path, err)
	}
	return cp, cleanup, nil
}

// copyFile copies from to to; a missing from copies nothing.
func copyFile(from, to string) error {
	in, err := os.Open(from) // #nosec G304 -- the damaged database's WAL
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // #nosec G304 -- beside the damaged file
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// salvageSuffix names the padded copy Salvage makes of a truncated file
// beside it.
const salvageSuffix = ".salvage"

// maxSalvageBytes bounds the padded copy Salvage makes of a truncated
// file: a header claiming more is itself damaged.
const maxSalvageBytes = 64 << 30

// RestoreOps puts salvaged ops back in the queue of this database, under
// their own ids (the server answers an op it already applied with its
// first answer, so none applies twice), and rebuilds their records from
// the server's copy, where there is one, and the ops. An op that was being
// sent or had a conflict is sent again; a failed one stays failed.
func (db *DB) RestoreOps(ctx context.Context, s *Salvaged) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("restore ops: %w", err)
	}
	defer db.leave()
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := nanos(db.now())
		touched := map[string]string{}
		created := map[string]bool{} // attachments a salvaged op creates, attached here
		var order []string
		for _, o := range s.ops {
			o.seq = 0
			switch o.state {
			case OpSyncing, OpConflict:
				o.state, o.nextAttempt = OpRetrying, 0
				if !o.sentSince.Valid {
					o.sentSince = o.attemptSince
				}
			}
			o.attemptSince = sql.NullInt64{}
			if err := db.insertOp(ctx, tx, o); err != nil {
				if errors.Is(mapErr(err), ErrExists) {
					continue // already queued here
				}
				return fmt.Errorf("restore op %s: %w", o.OpID, err)
			}
			if o.Collection == model.AttachmentCollection && o.Kind == model.OpCreate && !o.imported &&
				(o.BaseVersion == 0 || s.uploads[o.RecordID]) {
				// An import's create came without the file's bytes:
				// they are the server's to send, not this device's. So
				// does an undo's restore of a record the server had (a
				// create on its tombstone), unless this device still had
				// the upload queued: the device that attached the file
				// sent its bytes, and this one may never have held them.
				created[o.RecordID] = true
			}
			if _, ok := touched[o.RecordID]; !ok {
				touched[o.RecordID] = o.Collection
				order = append(order, o.RecordID)
			}
		}
		for _, id := range order {
			if _, err := db.getRow(ctx, tx, id); errors.Is(err, ErrNotFound) {
				col := touched[id]
				if _, err := tx.ExecContext(ctx, `INSERT INTO records (id, collection, matter_id, fields, version, deleted, state, updated_at)
					VALUES (?, ?, '', ?, 0, 1, ?, ?)`, id, col, db.sealText("{}", recordPlace("fields", col, id)), model.StatePending, now); err != nil {
					return fmt.Errorf("restore record %s: %w", id, err)
				}
			} else if err != nil {
				return err
			}
			r, _, err := db.recompute(ctx, tx, id, now)
			if err != nil {
				return fmt.Errorf("restore record %s: %w", id, err)
			}
			if created[id] && !r.deleted {
				if err := queueSalvagedUpload(ctx, tx, r, now); err != nil {
					return fmt.Errorf("restore record %s: %w", id, err)
				}
			}
		}
		return db.journal(ctx, tx, JournalEntry{Actor: actorLocal, Kind: JournalRestore,
			Summary: fmt.Sprintf("put %d change(s) salvaged from the damaged database back in the queue", len(s.ops))})
	})
}

// queueSalvagedUpload notes the file of an attachment a salvaged op
// creates and queues its upload, as Attach did in the damaged database:
// the server has never had the record, so it has not had the bytes
// either, and a repaired database otherwise sent the record and never its
// file. The bytes stay in the device's file store through a repair; if
// they are gone, the upload fails saying so.
func queueSalvagedUpload(ctx context.Context, tx *sql.Tx, r recordRow, now int64) error {
	a, err := model.AttachmentOf(r.id, r.fields)
	if err != nil {
		return nil // not a file's record as this schema reads it: nothing to send
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO local_files (hash, size, origin, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (hash) DO NOTHING`, a.SHA256, a.Size, originAttached, now); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO transfers (attachment_id, direction, hash, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (attachment_id, direction) DO NOTHING`, r.id, Upload, a.SHA256, a.Size, TransferQueued, now)
	return err
}

// QuickCheck runs SQLite's quick integrity check and returns ErrCorrupt,
// with what SQLite found, when the file is damaged.
func (db *DB) QuickCheck(ctx context.Context) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.leave()
	var res string
	if err := db.r.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("check the local database: %w", mapErr(err))
	}
	if res != "ok" {
		return fmt.Errorf("%w (%s)", ErrCorrupt, res)
	}
	return nil
}
