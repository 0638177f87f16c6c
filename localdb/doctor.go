package localdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// stuckAfter is how long an op may stay syncing before Doctor calls it
// stuck: a live syncer answers or gives up well within it.
const stuckAfter = 10 * time.Minute

// Doctor checks integrity and queue sanity; with repair it fixes what it can.
// Repair also restarts a full resync from the server (ResetCursor), which
// keeps every queued op and conflict.
func (db *DB) Doctor(ctx context.Context, repair bool) (Report, error) {
	if err := db.enter(); err != nil {
		return Report{}, fmt.Errorf("doctor: %w", err)
	}
	defer db.leave()
	rep := Report{Problems: []string{}, Repaired: []string{}}
	if err := db.checkIntegrity(ctx, &rep); err != nil {
		return rep, fmt.Errorf("doctor: %w", err)
	}
	if err := db.checkLayout(ctx); err != nil {
		return rep, fmt.Errorf("doctor: %w", err)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		checks := []func(context.Context, *sql.Tx, *Report, bool) error{
			db.checkOrphans, db.checkStuck, db.checkConflicts, db.checkStates, db.checkCursor,
		}
		for _, check := range checks {
			if err := check(ctx, tx, &rep, repair); err != nil {
				return err
			}
		}
		if repair {
			if err := db.resetCursor(ctx, tx); err != nil {
				return err
			}
			rep.Repaired = append(rep.Repaired, "the next sync pulls everything again from the server (queued changes are kept)")
		}
		if !repair {
			// Read-only: nothing to commit; roll back to leave no trace.
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return rep, fmt.Errorf("doctor: %w", err)
	}
	return rep, nil
}

var errDryRun = errors.New("dry run")

// checkIntegrity runs SQLite's integrity and foreign key checks on a
// connection of its own, opened for them and closed after. A pooled reader
// will not do: FTS5 keeps a per-connection copy of its index's structure,
// which integrity_check (unlike a search) does not refresh after another
// connection writes, so a reader that checked once before reports
// "fts5: corruption found" for a sound database.
func (db *DB) checkIntegrity(ctx context.Context, rep *Report) error {
	fresh, err := sql.Open("sqlite", dsn(db.path, "_pragma=query_only(1)"))
	if err != nil {
		return mapErr(err)
	}
	defer fresh.Close()
	fresh.SetMaxOpenConns(1)
	conn, err := fresh.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return mapErr(err)
		}
		if line != "ok" {
			rep.Problems = append(rep.Problems, "integrity: "+line)
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	rows.Close()
	fk, err := conn.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return mapErr(err)
	}
	defer fk.Close()
	for fk.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var idx int
		if err := fk.Scan(&table, &rowid, &parent, &idx); err != nil {
			return mapErr(err)
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("foreign key: a row of %s points to a missing %s", table, parent))
	}
	return mapErr(fk.Err())
}

// checkLayout compares the database's tables, indexes and triggers with
// those its migrations make in a new database, and returns ErrCorrupt
// naming what is missing: a table dropped by hand or by another program
// passes SQLite's integrity check, but every write that needs it fails,
// and only a rebuild mends it.
func (db *DB) checkLayout(ctx context.Context) error {
	want, err := freshLayout(ctx)
	if err != nil {
		return err
	}
	have, err := layout(ctx, db.r)
	if err != nil {
		return err
	}
	var missing []string
	for _, o := range want {
		if !slices.Contains(have, o) {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		return &storageError{kind: ErrCorrupt, detail: "missing: " + strings.Join(missing, ", ")}
	}
	return nil
}

// freshLayouts holds the layout the embedded migrations make, once one
// call has laid it out: the migrations are the binary's own, and laying
// out a database in memory for every check cost a doctor run its parsing.
var freshLayouts struct {
	sync.Mutex
	names []string
}

// freshLayout is the layout the migrations make in a new database. A
// failure is not kept: the next check lays it out again.
func freshLayout(ctx context.Context) ([]string, error) {
	freshLayouts.Lock()
	defer freshLayouts.Unlock()
	if freshLayouts.names != nil {
		return freshLayouts.names, nil
	}
	names, err := layOutFresh(ctx)
	if err != nil {
		return nil, err
	}
	freshLayouts.names = names
	return names, nil
}

func layOutFresh(ctx context.Context) ([]string, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	mem, err := sql.Open("sqlite", "file:layout?mode=memory")
	if err != nil {
		return nil, mapErr(err)
	}
	defer mem.Close()
	mem.SetMaxOpenConns(1)
	if err := migrate(ctx, mem, migs, time.Time{}); err != nil {
		return nil, fmt.Errorf("lay out a new database to compare: %w", err)
	}
	return layout(ctx, mem)
}

// layout lists a database's tables, indexes and triggers as "table
// NAME", "index NAME" and "trigger NAME", sorted.
func layout(ctx context.Context, q *sql.DB) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT type || ' ' || name FROM sqlite_master
		WHERE type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY 1`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, o)
	}
	return out, mapErr(rows.Err())
}

const orphanedMessage = "its record is missing on this device; export or discard it"

// checkOrphans finds ops whose record is missing, other than those kept
// after access to their matter was revoked or a full resync no longer
// showed their record.
func (db *DB) checkOrphans(ctx context.Context, tx *sql.Tx, rep *Report, repair bool) error {
	ops, err := db.queryOps(ctx, tx, `WHERE error_code NOT IN (?, ?, ?, ?)
		AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = outbox.record_id) ORDER BY seq`,
		protocol.CodeAccessRevoked, protocol.CodeGone, protocol.CodeOutcomeUnknown, protocol.CodeOrphaned)
	if err != nil {
		return err
	}
	for _, o := range ops {
		rep.Problems = append(rep.Problems, fmt.Sprintf("op %s (%s of %s): its record is missing", o.OpID, o.Kind, o.RecordID))
		if !repair {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, error_code = ?, last_error = ? WHERE seq = ?`,
			OpFailed, protocol.CodeOrphaned, orphanedMessage, o.seq); err != nil {
			return err
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("op %s kept as failed for you to export or discard", o.OpID))
	}
	return nil
}

// checkStuck finds ops left syncing for longer than a sync can take.
func (db *DB) checkStuck(ctx context.Context, tx *sql.Tx, rep *Report, repair bool) error {
	ops, err := db.queryOps(ctx, tx, "WHERE state = ? AND updated_at < ? ORDER BY seq", OpSyncing, nanos(db.now().Add(-stuckAfter)))
	if err != nil {
		return err
	}
	for _, o := range ops {
		rep.Problems = append(rep.Problems, fmt.Sprintf("op %s has been sending since %s", o.OpID, fromNanos(o.updatedAt).Local().Format(time.DateTime)))
		if !repair {
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = ?, next_attempt = 0 WHERE seq = ?", OpRetrying, o.seq); err != nil {
			return err
		}
		if err := refreshState(ctx, tx, o.RecordID); err != nil {
			return err
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("op %s will be sent again", o.OpID))
	}
	return nil
}

// checkConflicts finds conflict ops without a conflict to review, and
// conflicts whose op is gone.
func (db *DB) checkConflicts(ctx context.Context, tx *sql.Tx, rep *Report, repair bool) error {
	ops, err := db.queryOps(ctx, tx, `WHERE state = ?
		AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.op_id = outbox.op_id) ORDER BY seq`, OpConflict)
	if err != nil {
		return err
	}
	for _, o := range ops {
		rep.Problems = append(rep.Problems, fmt.Sprintf("op %s is marked conflict but has no conflict to review", o.OpID))
		if !repair {
			continue
		}
		// Sending it again brings the server's answer, and the conflict, back.
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = ?, next_attempt = 0 WHERE seq = ?", OpRetrying, o.seq); err != nil {
			return err
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("op %s will be sent again", o.OpID))
	}
	ids, err := distinctRecords(ctx, tx, `SELECT record_id FROM conflicts c
		WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.op_id = c.op_id AND o.state = ?)`, OpConflict)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the conflict of record %s has no change behind it", id))
		if !repair {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM conflicts WHERE record_id = ?", id); err != nil {
			return err
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("the empty conflict of record %s was removed", id))
	}
	return nil
}

// checkStates finds records whose shown state or fields disagree with their ops.
func (db *DB) checkStates(ctx context.Context, tx *sql.Tx, rep *Report, repair bool) error {
	// The state a record should show, as stateOf computes it: conflict
	// when a conflict waits, else its worst queued op's, else synced. The
	// ranks table holds the op states worst last, as opStatesByRank.
	args := make([]any, 0, len(opStatesByRank)+2)
	values := make([]string, len(opStatesByRank))
	for i, s := range opStatesByRank {
		values[i] = fmt.Sprintf("(?, %d)", i)
		args = append(args, s)
	}
	args = append(args, model.StateConflict, model.StateSynced)
	ids, err := distinctRecords(ctx, tx, `WITH ranks(state, rank) AS (VALUES `+strings.Join(values, ", ")+`)
		SELECT r.id FROM records r WHERE r.state != coalesce(
		CASE WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.record_id = r.id) THEN ? END,
		(SELECT k.state FROM outbox o JOIN ranks k ON k.state = o.state
			WHERE o.record_id = r.id ORDER BY k.rank DESC LIMIT 1),
		?)`, args...)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rep.Problems = append(rep.Problems, fmt.Sprintf("record %s shows a state its queued changes do not have", id))
		if !repair {
			continue
		}
		if _, _, err := db.recompute(ctx, tx, id, 0); err != nil {
			return err
		}
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("record %s: state recomputed", id))
	}
	return nil
}

func (db *DB) checkCursor(ctx context.Context, tx *sql.Tx, rep *Report, repair bool) error {
	cur, err := getMeta(ctx, tx, metaCursor)
	if err != nil || cur == "" {
		return err
	}
	if _, perr := parseCursor(cur); perr != nil {
		// The repair's reset, which every repair runs, mends it.
		rep.Problems = append(rep.Problems, fmt.Sprintf("the sync cursor %q is not a valid position: the device cannot pull until it is reset", cur))
	}
	return nil
}
