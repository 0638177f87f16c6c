package localdb

import (
	"casefile/model"
	"context"
	"database/sql"
)

// index replaces a record's full-text entry; tombstones have none.
func (db *DB) index(ctx context.Context, tx *sql.Tx, rid int64, collection string, fields model.Fields, deleted bool) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM records_fts WHERE rowid = ?", rid); err != nil {
		return err
	}
	if deleted {
		return nil
	}
	col, _ := db.schema.Collection(collection)
	if text := db.searchBody(searchText(col, fields)); text != "" {
		if _, err := tx.ExecContext(ctx, "INSERT INTO records_fts (rowid, body) VALUES (?, ?)", rid, text); err != nil {
			return err
		}
	}
	return nil
}
