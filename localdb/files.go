package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"casefile/model"
)

// FileState is what a person sees of an attached file on this device.
type FileState string

// The file states.
const (
	FileQueued      FileState = "queued"            // waiting to move, up or down
	FileRetrying    FileState = "retrying"          // a download failed for a passing reason; shown with it, tried again
	FileUploading   FileState = "uploading"         // shown with its percentage
	FileUploaded    FileState = "uploaded"          // attached here and on the server
	FileDownloading FileState = "downloading"       // shown with its percentage
	FileOffline     FileState = "available offline" // downloaded, verified, on this device
	FileOnServer    FileState = "on server"         // not on this device; fetch to download
	FileAwaiting    FileState = "awaiting sync"     // not on this device, and its record not yet on the server as far as this device knows
	FileFailed      FileState = "failed"            // shown with the reason
)

// Direction is the way a transfer moves bytes.
type Direction string

// The directions.
const (
	Upload   Direction = "up"
	Download Direction = "down"
)

// TransferState is the state of a queued transfer.
type TransferState string

// The transfer states.
const (
	TransferQueued TransferState = "queued"
	TransferActive TransferState = "active"
	TransferFailed TransferState = "failed"
)

// Origins of a local file.
const (
	originAttached   = "attached"
	originDownloaded = "downloaded"
)

// KeepOffline is a matter's choice of files to download eagerly.
type KeepOffline string

// The keep-offline modes; a matter without a choice keeps small files.
const (
	KeepAll   KeepOffline = "all"   // every file
	KeepSmall KeepOffline = "small" // files up to the threshold; larger on demand
	KeepNone  KeepOffline = "none"  // every file on demand
)

// FileInfo is an attachment and where its bytes are.
type FileInfo struct {
	model.Attachment
	UpdatedAt time.Time
	Record    model.SyncState // the attachment record's sync state
	State     FileState
	Done      int64  // bytes moved of a transfer in progress
	Error     string // why a transfer failed
	Local     bool   // the verified bytes are on this device
}

// StateText is the state as people read it: "uploading 45 %", "failed:
// reason", "retrying: reason".
func (f FileInfo) StateText() string {
	switch f.State {
	case FileUploading, FileDownloading:
		pct := int64(100)
		if f.Size > 0 {
			pct = f.Done * 100 / f.Size
		}
		return fmt.Sprintf("%s %d %%", f.State, pct)
	case FileFailed:
		return "failed: " + f.Error
	case FileRetrying:
		return "retrying: " + f.Error
	}
	return string(f.State)
}

// Transfer is one queued movement of a file's bytes.
type Transfer struct {
	AttachmentID string        `json:"attachment_id"`
	Direction    Direction     `json:"direction"`
	Hash         string        `json:"sha256"`
	Size         int64         `json:"size"`
	State        TransferState `json:"state"`
	Done         int64         `json:"done_bytes"`
	Attempts     int           `json:"attempts"`
	LastError    string        `json:"last_error,omitempty"`
}

// ErrNotAttachment is returned for an id that names no attachment here.
var ErrNotAttachment = errors.New("no such file on this device")

// Attach attaches a file, already in the device's file store, to a record:
// one transaction creates the attachment record (queued for the server
// like any record, journaled), notes the local file and queues its upload.
func (db *DB) Attach(ctx context.Context, recordID string, a model.Attachment) (model.Record, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, fmt.Errorf("attach: %w", err)
	}
	defer db.leave()
	owner, err := db.Get(ctx, recordID)
	if err != nil {
		return model.Record{}, fmt.Errorf("attach to %s: %w", recordID, err)
	}
	if owner.Deleted {
		return model.Record{}, fmt.Errorf("attach to %s: %w", recordID, ErrNotFound)
	}
	col, err := db.collection(model.AttachmentCollection)
	if err != nil {
		return model.Record{}, err
	}
	a.RecordID, a.MatterID = owner.ID, owner.MatterID()
	norm, probs := col.Validate(a.Fields(), true)
	if len(probs) > 0 {
		return model.Record{}, probs
	}
	var rec model.Record
	err = db.tx(ctx, func(tx *sql.Tx) error {
		w, err := newImportWriter(ctx, tx, db)
		if err != nil {
			return err
		}
		defer w.close()
		rec, err = w.write(ctx, col, model.NewID(), norm, "create", "attached "+a.Name)
		if err != nil {
			return err
		}
		now := nanos(db.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO local_files (hash, size, origin, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (hash) DO NOTHING`, a.SHA256, a.Size, originAttached, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO transfers (attachment_id, direction, hash, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			rec.ID, Upload, a.SHA256, a.Size, TransferQueued, now)
		return err
	})
	if err != nil {
		return model.Record{}, wrapWrite("attach "+a.Name, err)
	}
	return rec, nil
}

// HasLocalFile reports whether the database notes a file with these
// bytes on this device (attached, imported or downloaded).
func (db *DB) HasLocalFile(ctx context.Context, hash string) (bool, error) {
	if err := db.enter(); err != nil {
		return false, fmt.Errorf("has local file: %w", err)
	}
	defer db.leave()
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM local_files WHERE hash = ?`, hash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// fileColumns are the columns scanFile reads; an encrypted database's
// fields are decrypted in the query.
func (db *DB) fileColumns() string {
	f := db.sqlRecordFields("r", "fields")
	return `r.id, ` + f + `, r.updated_at, r.state, r.version,
	(SELECT 1 FROM local_files l WHERE l.hash = json_extract(` + f + `, '$.sha256')),
	(SELECT l.origin FROM local_files l WHERE l.hash = json_extract(` + f + `, '$.sha256')),
	u.state, u.done_bytes, u.last_error, d.state, d.done_bytes, d.last_error`
}

const fileJoins = ` FROM records r
	LEFT JOIN transfers u ON u.attachment_id = r.id AND u.direction = 'up'
	LEFT JOIN transfers d ON d.attachment_id = r.id AND d.direction = 'down'`

// Files lists the files attached to a record (every file when recordID is
// ""), oldest first. Deleted attachments are not listed.
func (db *DB) Files(ctx context.Context, recordID string) ([]FileInfo, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	defer db.leave()
	q := `SELECT ` + db.fileColumns() + fileJoins + ` WHERE r.collection = ? AND r.deleted = 0`
	args := []any{model.AttachmentCollection}
	if recordID != "" {
		q += ` AND json_extract(` + db.sqlRecordFields("r", "fields") + `, '$.record_id') = ?`
		args = append(args, recordID)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY r.rid`, args...)
	if err != nil {
		return nil, fmt.Errorf("files: %w", mapErr(err))
	}
	defer rows.Close()
	var out []FileInfo
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		out = append(out, f)
	}
	return out, mapErr(rows.Err())
}

// File returns one attached file by its attachment id.
func (db *DB) File(ctx context.Context, id string) (FileInfo, error) {
	if err := db.enter(); err != nil {
		return FileInfo{}, fmt.Errorf("file: %w", err)
	}
	defer db.leave()
	row := db.r.QueryRowContext(ctx, `SELECT `+db.fileColumns()+fileJoins+` WHERE r.id = ? AND r.collection = ? AND r.deleted = 0`, id, model.AttachmentCollection) // #nosec G202 -- constant column lists; values are parameters
	f, err := scanFile(row)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("%w: %s", ErrNotAttachment, id)
	}
	return f, err
}

func scanFile(s rowScanner) (FileInfo, error) {
	var (
		f                  FileInfo
		fj                 sql.NullString
		at, version        int64
		local              sql.NullInt64
		origin             sql.NullString
		upState, downState sql.NullString
		upDone, downDone   sql.NullInt64
		upErr, downErr     sql.NullString
	)
	if err := s.Scan(&f.ID, &fj, &at, &f.Record, &version, &local, &origin, &upState, &upDone, &upErr, &downState, &downDone, &downErr); err != nil {
		return f, err
	}
	fields, err := decodeFields(fj)
	if err != nil {
		return f, err
	}
	att, err := model.AttachmentOf(f.ID, fields)
	if err != nil {
		// Shown all the same, with what it has; nothing can move.
		f.Error = err.Error()
	}
	f.Attachment, f.UpdatedAt, f.Local = att, fromNanos(at), local.Valid
	switch {
	case upState.Valid:
		f.State, f.Done, f.Error = transferFileState(TransferState(upState.String), FileUploading), upDone.Int64, upErr.String
	case downState.Valid:
		f.State, f.Done, f.Error = transferFileState(TransferState(downState.String), FileDownloading), downDone.Int64, downErr.String
		if f.State == FileQueued && f.Error != "" {
			// Put back by TransferRetry (a cut, a restarting server, a
			// file not uploaded yet): waiting to retry, not failed, which
			// only TransferFailed decides. An upload in the same case is
			// shown queued: its bytes are safe here whatever happens.
			f.State = FileRetrying
		}
	case f.Local && origin.String == originAttached:
		f.State = FileUploaded
	case f.Local:
		f.State = FileOffline
	case version == 0:
		// Its record never came back from the server here: a create
		// restored from a backup, not sent yet or refused. The server may
		// hold the file (the backed-up device uploaded it) or not (it never
		// did); this device does not know, so it does not say "on server".
		f.State = FileAwaiting
	default:
		f.State = FileOnServer
	}
	// An attachment whose fields do not make a file cannot move at all;
	// a download waiting to retry keeps its state and shows its error.
	if f.State != FileFailed && f.State != FileRetrying && f.Error != "" && !f.Local {
		f.State = FileFailed
	}
	return f, nil
}

func transferFileState(s TransferState, moving FileState) FileState {
	switch s {
	case TransferActive:
		return moving
	case TransferFailed:
		return FileFailed
	}
	return FileQueued
}
