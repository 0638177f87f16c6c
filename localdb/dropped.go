package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"casefile/model"
)

// DropImport is a file found in the drop folder, copied into the file
// store, to become a record with the file attached.
type DropImport struct {
	Path       string // where it was found, the key against importing it twice
	Collection string // the new record's collection (document)
	Fields     model.Fields
	File       model.Attachment // name, size, media type, hash
}

// WasImported reports whether the file at path with this content was
// imported already, and as which record.
func (db *DB) WasImported(ctx context.Context, path, hash string) (string, bool, error) {
	if err := db.enter(); err != nil {
		return "", false, fmt.Errorf("was imported: %w", err)
	}
	defer db.leave()
	var id string
	err := db.r.QueryRowContext(ctx, `SELECT record_id FROM drop_imports WHERE path = ? AND hash = ?`, path, hash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, mapErr(err)
}

// ImportDropped creates the record, its attachment, the upload and the
// note that path was imported, all in one transaction and journaled: a
// crash leaves either all of it or none. A file already imported with the
// same content is not imported again (false).
func (db *DB) ImportDropped(ctx context.Context, in DropImport) (model.Record, bool, error) {
	if err := db.enter(); err != nil {
		return model.Record{}, false, fmt.Errorf("import dropped file: %w", err)
	}
	defer db.leave()
	col, err := db.collection(in.Collection)
	if err != nil {
		return model.Record{}, false, err
	}
	acol, err := db.collection(model.AttachmentCollection)
	if err != nil {
		return model.Record{}, false, err
	}
	norm, probs := col.Validate(in.Fields, true)
	if len(probs) > 0 {
		return model.Record{}, false, probs
	}
	var rec model.Record
	imported := false
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM drop_imports WHERE path = ? AND hash = ?`, in.Path, in.File.SHA256).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		w, err := newImportWriter(ctx, tx, db)
		if err != nil {
			return err
		}
		defer w.close()
		refs, err := refProblems(ctx, w.refs, col, norm, nil)
		if err != nil {
			return err
		}
		if len(refs) > 0 {
			return refs
		}
		id := model.NewID()
		rec, err = w.write(ctx, col, id, norm, "import", "imported from the drop folder")
		if err != nil {
			return err
		}
		a := in.File
		a.RecordID, a.MatterID = id, rec.MatterID()
		afields, probs := acol.Validate(a.Fields(), true)
		if len(probs) > 0 {
			return probs
		}
		att, err := w.write(ctx, acol, model.NewID(), afields, "create", "attached "+a.Name)
		if err != nil {
			return err
		}
		now := nanos(db.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO local_files (hash, size, origin, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
			a.SHA256, a.Size, originAttached, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO transfers (attachment_id, direction, hash, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			att.ID, Upload, a.SHA256, a.Size, TransferQueued, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO drop_imports (path, hash, record_id, imported_at) VALUES (?, ?, ?, ?)`,
			in.Path, a.SHA256, id, now); err != nil {
			return err
		}
		imported = true
		return nil
	})
	if err != nil {
		return model.Record{}, false, wrapWrite("import "+in.Path, err)
	}
	return rec, imported, nil
}
