package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"casefile/model"
)

// index replaces a record's full-text entry now; tombstones have none.
// Bulk writes of new records (an import, a first sync) index inline,
// where one segment serves many rows; single writes use indexLater.
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

// indexLater puts a record in the search backlog (migration 0024): its
// full-text entry is brought up to date by the next catchUpSearch, which
// runs when writes pause and before every search. The indexer is told
// once the transaction commits (txOn), not before: a catch-up that ran
// while it was open would not see the row.
func (db *DB) indexLater(ctx context.Context, tx *sql.Tx, rid int64) error {
	if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO search_backlog (rid) VALUES (?)", rid); err != nil {
		return err
	}
	db.backlogged.Store(true)
	return nil
}

// The indexer waits for writes to pause for indexIdle before it catches
// up, but never longer than indexMaxWait after the first write it waits
// for; catchUpBatch records go in one transaction.
const (
	indexIdle     = 50 * time.Millisecond
	indexMaxWait  = time.Second
	catchUpBatch  = 512
	closeCatchUp  = 2 * time.Second
	backlogExists = "SELECT EXISTS (SELECT 1 FROM search_backlog)"
)

// indexer catches the search index up once writes pause, so that a burst
// of saves pays for one segment instead of one each.
func (db *DB) indexer(ctx context.Context) {
	defer db.stopped.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.indexKick:
		}
		deadline := time.NewTimer(indexMaxWait)
		idle := time.NewTimer(indexIdle)
	wait:
		for {
			select {
			case <-ctx.Done():
				deadline.Stop()
				idle.Stop()
				return
			case <-db.indexKick:
				idle.Reset(indexIdle)
			case <-idle.C:
				break wait
			case <-deadline.C:
				break wait
			}
		}
		deadline.Stop()
		idle.Stop()
		// A failed turn is retried at the next kick, and every search
		// catches up first anyway.
		_ = db.catchUpSearch(ctx)
	}
}

// catchUpSearch writes the full-text entries of every record in the search
// backlog and empties it. It reads the table rather than a flag of this
// process: another process on the same file may have added to it.
func (db *DB) catchUpSearch(ctx context.Context) error {
	var behind bool
	if err := db.r.QueryRowContext(ctx, backlogExists).Scan(&behind); err != nil {
		return fmt.Errorf("catch up the search index: %w", mapErr(err))
	}
	for behind {
		// Unsynced: the entries are derived from committed rows, and a
		// crash that loses them keeps the backlog rows they would have
		// removed. The next synced commit makes them durable.
		err := db.txUnsynced(ctx, func(tx *sql.Tx) error {
			var err error
			behind, err = db.catchUpSome(ctx, tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("catch up the search index: %w", err)
		}
	}
	return nil
}

// catchUpSome indexes the first catchUpBatch records of the backlog and
// takes them out of it; more reports whether some are left. The batch's
// records are read in one statement; a rid no longer in records (purged)
// has its entry removed.
func (db *DB) catchUpSome(ctx context.Context, tx *sql.Tx) (more bool, err error) {
	// The batch is the rids below the first one past it (all, if none is).
	end := int64(math.MaxInt64)
	err = tx.QueryRowContext(ctx, "SELECT rid FROM search_backlog ORDER BY rid LIMIT 1 OFFSET ?", catchUpBatch).Scan(&end)
	switch {
	case err == nil:
		more = true
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+recordSelect("r.")+` FROM search_backlog b
		JOIN records r ON r.rid = b.rid WHERE b.rid < ? ORDER BY b.rid`, end) // #nosec G202 -- a constant column list; values are parameters
	if err != nil {
		return false, err
	}
	var recs []recordRow
	for rows.Next() {
		rec, err := db.scanRecord(rows)
		if err != nil {
			rows.Close()
			return false, err
		}
		recs = append(recs, rec)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, rec := range recs {
		if err := db.index(ctx, tx, rec.rid, rec.collection, rec.fields, rec.deleted); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM records_fts WHERE rowid IN (SELECT rid FROM search_backlog
		WHERE rid < ? AND rid NOT IN (SELECT rid FROM records))`, end); err != nil {
		return false, err
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM search_backlog WHERE rid < ?", end)
	return more, err
}

// searchReady catches the search index up before a read that searches
// text, so that it finds every write committed before it began.
func (db *DB) searchReady(ctx context.Context, text string) error {
	if db.searchMatch(text) == "" {
		return nil
	}
	return db.catchUpSearch(ctx)
}
