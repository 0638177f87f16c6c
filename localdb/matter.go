package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"casefile/model"
)

// ErrMatterNotEmpty is matched by a MatterHoldsError: a matter that holds
// records is not deleted without them.
var ErrMatterNotEmpty = errors.New("the matter still holds records")

// MatterHoldsError refuses the delete of a matter that holds live records
// and counts them by collection.
type MatterHoldsError struct {
	Counts map[string]int
}

func (e *MatterHoldsError) Error() string {
	return "the matter still holds " + HoldsPhrase(e.Counts) + "; delete them with it or first"
}

// Is makes errors.Is(err, ErrMatterNotEmpty) hold.
func (e *MatterHoldsError) Is(target error) bool { return target == ErrMatterNotEmpty }

// Total is the number of records held.
func (e *MatterHoldsError) Total() int {
	n := 0
	for _, c := range e.Counts {
		n += c
	}
	return n
}

// HoldsPhrase words counts by collection for people: "records (note: 2,
// task: 1)".
func HoldsPhrase(counts map[string]int) string { return "records (" + HoldsList(counts) + ")" }

// HoldsList lists counts by collection, in name order: "note: 2, task: 1".
func HoldsList(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, c := range names {
		parts[i] = fmt.Sprintf("%s: %d", strings.ReplaceAll(c, "_", " "), counts[c])
	}
	return strings.Join(parts, ", ")
}

// matterHolds counts the live records of a matter, the matter not, by
// collection.
func matterHolds(ctx context.Context, q querier, matterID string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT collection, count(*) FROM records
		WHERE matter_id = ? AND id <> ? AND deleted = 0 GROUP BY collection`, matterID, matterID)
	if err != nil {
		return nil, fmt.Errorf("count a matter's records: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, fmt.Errorf("count a matter's records: %w", mapErr(err))
		}
		out[c] = n
	}
	return out, mapErr(rows.Err())
}

// MatterHolds counts the live records a matter holds, by collection.
func (db *DB) MatterHolds(ctx context.Context, matterID string) (map[string]int, error) {
	if err := db.enter(); err != nil {
		return nil, fmt.Errorf("count a matter's records: %w", err)
	}
	defer db.leave()
	return matterHolds(ctx, db.r, matterID)
}

// DeleteCascade deletes a matter and every live record it holds, in one
// transaction: the records' deletes are queued before the matter's, so the
// server, which refuses to delete a matter that holds records, gets them
// first. A held record in conflict stops it (resolve it first); nothing is
// deleted then. It returns how many records went with the matter.
func (db *DB) DeleteCascade(ctx context.Context, matterID string) (int, error) {
	if err := db.enter(); err != nil {
		return 0, fmt.Errorf("delete %s: %w", matterID, err)
	}
	defer db.leave()
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		m, err := db.getRow(ctx, tx, matterID)
		if err != nil {
			return err
		}
		if err := db.deletable(ctx, tx, m); err != nil {
			return err
		}
		if m.collection != model.MatterCollection {
			return fmt.Errorf("%s is a %s, not a matter", matterID, m.collection)
		}
		ids, err := heldIDs(ctx, tx, matterID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			rec, err := db.getRow(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := db.deleteRow(ctx, tx, rec, "deleted with its matter"); err != nil {
				return fmt.Errorf("%s %s: %w", rec.collection, id, err)
			}
			n++
		}
		return db.deleteRow(ctx, tx, m, "deleted")
	})
	if err != nil {
		return 0, wrapWrite("delete "+matterID, err)
	}
	return n, nil
}

// heldIDs lists the live records of a matter, the matter not, by id
// (ids are UUIDv7: the records created first go first).
func heldIDs(ctx context.Context, tx *sql.Tx, matterID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM records
		WHERE matter_id = ? AND id <> ? AND deleted = 0 ORDER BY id`, matterID, matterID)
	if err != nil {
		return nil, fmt.Errorf("list a matter's records: %w", mapErr(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list a matter's records: %w", mapErr(err))
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err())
}
