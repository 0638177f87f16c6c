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
	// Again imports the file again when the record of its earlier import
	// has been deleted: the folder moves imported files away, so the same
	// path and content seen again are a new drop. Where originals stay in
	// the folder, the file seen again is the one imported, and a document
	// the person deleted must not come back.
	Again bool
}

// blindPrefix marks a drop folder path kept as a keyed hash.
const blindPrefix = "blind:"

// dropKey is how a drop folder path is kept: in an encrypted database a
// keyed hash (the path names the matter's folder and the file, which can
// be as telling as its contents), so that only equality can be asked.
func (db *DB) dropKey(path string) string {
	if db.sealer == nil {
		return path
	}
	return blindPrefix + db.sealer.Blind("drop folder path\x00"+path)
}

// blindDropPaths replaces the paths an encrypted database holds in
// plaintext (imported before they were hashed, or in a database since
// converted) by their keyed hashes, in one transaction.
func (db *DB) blindDropPaths(ctx context.Context) error {
	if db.sealer == nil {
		return nil
	}
	rows, err := db.w.QueryContext(ctx, `SELECT path FROM drop_imports WHERE substr(path, 1, length(?)) <> ?`, blindPrefix, blindPrefix)
	if err != nil {
		return mapErr(err)
	}
	var paths []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return mapErr(err)
		}
		paths = append(paths, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return mapErr(err)
	}
	if len(paths) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, p := range paths {
		// OR REPLACE: a path imported again since is kept once.
		if _, err := tx.ExecContext(ctx, `UPDATE OR REPLACE drop_imports SET path = ? WHERE path = ?`, db.dropKey(p), p); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(tx.Commit())
}

// liveImport is the condition on a drop_imports row d that its record is
// still there: a person who deleted the document and drops the file again
// wants it back, so an import whose record is deleted (or gone) no longer
// keeps the same path and content out.
const liveImport = `EXISTS (SELECT 1 FROM records r WHERE r.id = d.record_id AND r.deleted = 0)`

// WasImported reports whether the file at path with this content was
// imported already, as a record not deleted since, and as which record.
func (db *DB) WasImported(ctx context.Context, path, hash string) (string, bool, error) {
	if err := db.enter(); err != nil {
		return "", false, fmt.Errorf("was imported: %w", err)
	}
	defer db.leave()
	var id string
	err := db.r.QueryRowContext(ctx, `SELECT d.record_id FROM drop_imports d
		WHERE d.path = ? AND d.hash = ? AND `+liveImport, db.dropKey(path), hash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, mapErr(err)
}

// ImportDropped creates the record, its attachment, the upload and the
// note that path was imported, all in one transaction and journaled: a
// crash leaves either all of it or none. A file already imported with the
// same content is not imported again (false), unless its record has been
// deleted since and in.Again says the file is a new drop.
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
		var live bool
		err := tx.QueryRowContext(ctx, `SELECT `+liveImport+` FROM drop_imports d WHERE d.path = ? AND d.hash = ?`,
			db.dropKey(in.Path), in.File.SHA256).Scan(&live)
		if err == nil && (live || !in.Again) {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil {
			// Imported before as a record deleted since: the new record
			// takes the note's place.
			if _, err := tx.ExecContext(ctx, `DELETE FROM drop_imports WHERE path = ? AND hash = ?`, db.dropKey(in.Path), in.File.SHA256); err != nil {
				return err
			}
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
			db.dropKey(in.Path), a.SHA256, id, now); err != nil {
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
