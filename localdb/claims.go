package localdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"casefile/internal/flock"
	"casefile/internal/leftover"
)

// Several processes may hold one database open: the UI with its syncer,
// and beside it a script's `casefile note add` or `casefile sync`. An op
// in `syncing` was handed to some process's syncer, and only a process
// that is gone leaves one there for good. So every handle that hands ops
// out owns them: the outbox names it (claimed_by), and the handle holds
// a lock file of its own, <database>-claims/<owner>.lock, locked from
// before its first claim until it closes or its process ends, however
// it ends. Ops whose owner's lock no process holds, or whose owner has
// no lock file, were caught in flight by a process's end: they go back
// to the queue (recoverSyncing), when the database is opened and, while
// it stays open, at most every claimSweepEvery as batches are taken. An
// open by another process no longer takes back what a live syncer is
// sending (the journal then said casefile had stopped, and a second
// syncer sent the same ops again beside the first).

// claimSweepEvery is how often, at most, a handle taking batches looks
// for ops a process that ended left in flight.
const claimSweepEvery = time.Minute

// claimsSuffix names the directory of owners' lock files beside the
// database file.
const claimsSuffix = "-claims"

// claimLockSuffix ends an owner's lock file name; a lock file being made
// has claimNewSuffix until it is locked.
const (
	claimLockSuffix = ".lock"
	claimNewSuffix  = ".new"
)

// claims is a handle's ownership of the ops it hands out.
type claims struct {
	mu        sync.Mutex
	owner     string   // empty until the first claim
	file      *os.File // owner's lock file, locked while the handle is open
	lastSweep time.Time
	stranded  []strandedOps
}

// ClaimsDir is the directory of the senders' lock files of the database
// at path. They hold no data: only names, each locked by a live process.
func ClaimsDir(path string) string { return path + claimsSuffix }

func (db *DB) claimsDir() string { return ClaimsDir(db.path) }

// claimOwner is this handle's owner name, making and locking its lock
// file on first use. The file is made and locked under a name no sweep
// reads, then renamed: a sweep never finds a live owner's file unlocked.
func (db *DB) claimOwner() (string, error) {
	c := &db.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owner != "" {
		return c.owner, nil
	}
	dir := db.claimsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make the directory of senders' locks: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	owner := hex.EncodeToString(b[:])
	made := filepath.Join(dir, owner+claimNewSuffix)
	f, err := os.OpenFile(made, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600) // #nosec G304 -- a name of our own in the database's directory
	if err != nil {
		return "", fmt.Errorf("make a sender's lock: %w", err)
	}
	if err := flock.Lock(f, false, false); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		os.Remove(made)
		return "", fmt.Errorf("lock a sender's lock: %w", err)
	}
	if err := os.Rename(made, filepath.Join(dir, owner+claimLockSuffix)); err != nil {
		f.Close()
		os.Remove(made)
		return "", fmt.Errorf("name a sender's lock: %w", err)
	}
	c.owner, c.file = owner, f
	return owner, nil
}

// releaseClaims gives up this handle's lock file, at Close. Ops it still
// has in flight are then an ended owner's, for the next sweep.
func (db *DB) releaseClaims() {
	c := &db.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		_ = os.Remove(filepath.Join(db.claimsDir(), c.owner+claimLockSuffix))
		_ = c.file.Close()
		c.file = nil
	}
}

// Abandon lets go of what the operating system lets go of when a
// process is killed, and of nothing else: the lock on this handle's
// senders' lock file, which leaves the ops it has in flight to the next
// open or sweep, as a killed process's are. The handle stays open and
// usable, as a killed process's files stay as they were. It is for
// proofs that kill a process in-process (the simulation's crashes).
func (db *DB) Abandon() {
	c := &db.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		_ = c.file.Close()
		c.file = nil
	}
}

// endedClaims are the owners found gone by a sweep, and their lock files,
// held locked until the sweep's transaction has ended.
type endedClaims struct {
	owners []string
	legacy bool // ops in syncing that name no owner: claimed before owners were
	held   []*os.File
}

// done lets the ended owners' lock files go: removed once their ops are
// back in the queue (committed), left for the next sweep otherwise.
func (e *endedClaims) done(committed bool) {
	for _, f := range e.held {
		if committed {
			_ = os.Remove(f.Name())
		}
		_ = f.Close()
	}
	e.held = nil
}

// endedOwners finds the owners that ended: every lock file in the claims
// directory no process holds, and every owner of an op in syncing that
// has no lock file. At open, ops in syncing that name no owner count as
// ended too (no process of this version claimed them; an older one may
// have, before it ended). Where no lock can be tested (no flock(2)) only
// the open finds owners ended, all but this handle's, as before owners.
func (db *DB) endedOwners(ctx context.Context, tx *sql.Tx, atOpen bool) (*endedClaims, error) {
	e := &endedClaims{legacy: atOpen}
	dir := db.claimsDir()
	db.claims.mu.Lock()
	mine := db.claims.owner
	db.claims.mu.Unlock()
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT COALESCE(claimed_by, '') FROM outbox WHERE state = ?", OpSyncing)
	if err != nil {
		return nil, err
	}
	var owners []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return nil, err
		}
		if o != "" && o != mine {
			owners = append(owners, o)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !flock.Supported {
		if atOpen {
			e.owners = owners
		}
		return e, nil
	}
	ended := map[string]bool{}
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	files := map[string]bool{}
	for _, de := range es {
		name := de.Name()
		if strings.HasSuffix(name, claimNewSuffix) {
			// A lock file its maker never named: a process that ended
			// between making and renaming it, once it is old enough.
			if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > leftover.StaleAge {
				_ = os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		owner, ok := strings.CutSuffix(name, claimLockSuffix)
		if !ok || owner == mine {
			continue
		}
		files[owner] = true
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0) // #nosec G304 -- a lock file of the claims directory
		if errors.Is(err, fs.ErrNotExist) {
			continue // its owner closed meanwhile: the check below decides
		}
		if err != nil {
			e.done(false)
			return nil, err
		}
		if err := flock.Lock(f, false, false); err != nil {
			f.Close()
			if errors.Is(err, flock.ErrHeld) {
				continue // a live owner's
			}
			e.done(false)
			return nil, err
		}
		e.held = append(e.held, f)
		ended[owner] = true
	}
	for _, o := range owners {
		if !files[o] {
			ended[o] = true // its lock file is gone: its owner closed
		}
	}
	for o := range ended {
		e.owners = append(e.owners, o)
	}
	return e, nil
}

// recoverSyncing puts back in the queue, due now, the ops that owners
// that ended left in syncing. Sending one again is safe: the server
// answers a known op id with its first answer.
func (db *DB) recoverSyncing(ctx context.Context) error {
	var e *endedClaims
	err := db.tx(ctx, func(tx *sql.Tx) (err error) {
		e, err = db.endedOwners(ctx, tx, true)
		if err != nil {
			return err
		}
		return db.recoverEnded(ctx, tx, e)
	})
	if e != nil {
		e.done(err == nil)
	}
	if err != nil {
		return fmt.Errorf("recover interrupted sends: %w", err)
	}
	return nil
}

// sweepClaims is recoverSyncing inside a batch's transaction, at most
// every claimSweepEvery: what it puts back is due at once, for the batch
// to take. The caller calls done with whether tx committed.
func (db *DB) sweepClaims(ctx context.Context, tx *sql.Tx) (*endedClaims, error) {
	db.claims.mu.Lock()
	now := db.now()
	due := db.claims.lastSweep.IsZero() || now.Sub(db.claims.lastSweep) >= claimSweepEvery || now.Before(db.claims.lastSweep)
	if due {
		db.claims.lastSweep = now
	}
	db.claims.mu.Unlock()
	if !due {
		return &endedClaims{}, nil
	}
	e, err := db.endedOwners(ctx, tx, false)
	if err != nil {
		return nil, err
	}
	if err := db.recoverEnded(ctx, tx, e); err != nil {
		e.done(false)
		return nil, err
	}
	return e, nil
}

// recoverEnded puts the ended owners' ops back in the queue.
func (db *DB) recoverEnded(ctx context.Context, tx *sql.Tx, e *endedClaims) error {
	if len(e.owners) == 0 && !e.legacy {
		return nil
	}
	// Ops of the ended owners, and at open those that name none.
	const whose = "(claimed_by " + inIDs + " OR (? AND claimed_by IS NULL))"
	owners := idList(e.owners)
	ids, err := distinctRecords(ctx, tx, "SELECT DISTINCT record_id FROM outbox WHERE state = ? AND "+whose, OpSyncing, owners, e.legacy)
	if err != nil || len(ids) == 0 {
		return err
	}
	// Whether an interrupted attempt reached the server is unknown:
	// count it as sent.
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, next_attempt = 0, updated_at = ?,
		sent_since = COALESCE(sent_since, attempt_since) WHERE state = ? AND `+whose,
		OpRetrying, nanos(db.now()), OpSyncing, owners, e.legacy)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if err := refreshStates(ctx, tx, ids); err != nil {
		return err
	}
	return db.journal(ctx, tx, JournalEntry{Actor: actorSync, Kind: JournalRetry,
		Summary: fmt.Sprintf("%d change(s) were being sent when casefile stopped; they will be sent again", n)})
}

// strandedOps are ops this handle handed out and could not put back in
// the queue, because the write failed (the disk full, the file
// unwritable): they stay syncing, this live process's, so no sweep takes
// them back. ReturnStranded does, once the disk has room.
type strandedOps struct {
	unclaim        []OutboxOp // never sent: back as they were (Unclaim)
	retry          []string   // ids of ops to retry (MarkRetry, MarkUndelivered)
	msg            string
	maybeDelivered bool
}

func (db *DB) strand(s strandedOps) {
	db.claims.mu.Lock()
	db.claims.stranded = append(db.claims.stranded, s)
	db.claims.mu.Unlock()
}

// ReturnStranded puts back in the queue, due now, the ops this handle
// handed out and then could not put back because a write failed (Unclaim,
// MarkRetry and MarkUndelivered remember them). What it still cannot put
// back stays remembered. Taking a batch calls it first; a syncer calls it
// at each cycle too, so that they show as retrying once there is room,
// network or not.
func (db *DB) ReturnStranded(ctx context.Context) error {
	if err := db.enter(); err != nil {
		return fmt.Errorf("return stranded ops: %w", err)
	}
	defer db.leave()
	return db.returnStranded(ctx)
}

func (db *DB) returnStranded(ctx context.Context) error {
	db.claims.mu.Lock()
	all := db.claims.stranded
	db.claims.stranded = nil
	db.claims.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, s := range all {
			var err error
			if s.unclaim != nil {
				err = unclaimIn(ctx, tx, s.unclaim)
			} else {
				err = db.markRetryIn(ctx, tx, s.retry, s.msg, db.now(), s.maybeDelivered)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.claims.mu.Lock()
		db.claims.stranded = append(all, db.claims.stranded...)
		db.claims.mu.Unlock()
		return fmt.Errorf("return stranded ops: %w", err)
	}
	return nil
}
