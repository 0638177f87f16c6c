package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"casefile/config"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/syncer"
)

// quickCheckMaxBytes bounds the database files list checks for damage
// before answering: SQLite's quick check reads the whole file, a few
// milliseconds a megabyte; status checks whatever the size.
const quickCheckMaxBytes = 64 << 20

// checkDamage runs the quick integrity check on db; with limit > 0 only
// when the file is at most limit bytes. Its error says to run doctor --repair.
func checkDamage(ctx context.Context, db *localdb.DB, cfg config.Config, limit int64) error {
	if limit > 0 {
		if fi, err := os.Stat(config.DBPath(cfg.DataDir)); err == nil && fi.Size() > limit {
			return nil
		}
	}
	return db.QuickCheck(ctx)
}

// openChecked opens the local database and runs the quick check, closing
// the database when it fails.
func openChecked(ctx context.Context, env *Env, limit int64) (*localdb.DB, config.Config, error) {
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return nil, cfg, err
	}
	if err := checkDamage(ctx, db, cfg, limit); err != nil {
		db.Close()
		return nil, cfg, err
	}
	return db, cfg, nil
}

// doctorDamaged reports a damaged local database and, with repair, rebuilds
// it: every queued op still readable in the damaged file is salvaged
// while the file stays in place, a new database gets those ops back under
// their own ids (rebuildWith), the damaged file (and its WAL) is then
// kept aside, and a full pull brings back the rest from the server. The
// ops it could not read are named as what remains.
func doctorDamaged(ctx context.Context, env *Env, cause error, repair, asJSON bool) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	rep := doctorReport{ServerHead: -1, Notes: []string{}, Repaired: []string{}, Problems: []string{cause.Error()}}
	if !repair {
		return finishDoctor(env, rep, false, asJSON, rep.Problems)
	}
	path := config.DBPath(cfg.DataDir)
	// The damaged file is sealed with the data directory's key, unlocked
	// before the damage was found. It is read where it is: moved aside
	// first, a kill before its ops were in a new database would leave a
	// directory with no database, and the changes in a file no command
	// looks at.
	salv, err := localdb.Salvage(ctx, path, sealingOf(env)...)
	if err != nil {
		salv = &localdb.Salvaged{Lost: []string{"no queued change could be read: " + err.Error()}}
	}
	if env.cutHere() {
		return errRepairCut
	}
	db, kept, err := rebuildWith(ctx, env, cfg, salv)
	if err != nil {
		return err
	}
	defer db.Close()
	rep.Repaired = append(rep.Repaired, "the damaged file is kept as "+kept)
	rep.Repaired = append(rep.Repaired, fmt.Sprintf("%d unsent change(s) salvaged and queued again", len(salv.Ops())))
	var remaining []string
	for _, l := range salv.Lost {
		remaining = append(remaining, "not salvaged: "+l)
	}
	if err := pullIntoNew(ctx, env, db, cfg, &rep); err != nil {
		return err
	}
	rep.Remaining = remaining
	return finishDoctor(env, rep, true, asJSON, remaining)
}

// doctorGone reports a database that is missing or empty in a data
// directory in use and, with repair, starts a new one and pulls
// everything from the server into it. A WAL the lost file left is kept
// aside first: a new database would take an old WAL beside it for its
// own. When an earlier repair kept a damaged copy, the newest one's
// queued changes are salvaged into the new database: a repair by an
// older casefile, cut off after it moved the damaged file aside, left
// its unsent changes only there. Those the server already has are
// answered as sent before (the op ids are the same), so none applies
// twice.
func doctorGone(ctx context.Context, env *Env, gone *dbGoneError, repair, asJSON bool) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	rep := doctorReport{ServerHead: -1, Notes: []string{}, Repaired: []string{}, Problems: []string{gone.problem()}}
	path := config.DBPath(cfg.DataDir)
	// Listed before a WAL is moved aside under a damaged copy's name.
	copies, err := localdb.DamagedCopies(path)
	if err != nil {
		return err
	}
	if !repair {
		rep.Notes = append(rep.Notes, gone.advice())
		if len(copies) > 0 {
			rep.Notes = append(rep.Notes, "a damaged copy an earlier repair kept is here ("+copies[0]+
				"): 'casefile doctor --repair' queues its unsent changes again in the new database")
		}
		return finishDoctor(env, rep, false, asJSON, rep.Problems)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		// A WAL holds pages of what was there: kept, as a damaged file's.
		aside := localdb.DamagedPath(path, time.Now())
		if err := localdb.MoveAside(path, aside); err != nil {
			return fmt.Errorf("keep the database's WAL aside: %w", err)
		}
		rep.Repaired = append(rep.Repaired, "the database's WAL is kept as "+aside+"-wal")
	}
	// What is left holds nothing: an empty file, an empty WAL, the
	// shared memory of a database that is gone.
	for _, p := range append([]string{path}, localdb.SidePaths(path)...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the empty database: %w", err)
		}
	}
	// The directory's key, not asked for while the database was missing.
	if env.keys == nil {
		keys, err := unlockKeys(env, cfg.DataDir)
		if err != nil {
			return err
		}
		env.keys = keys
	}
	salv := &localdb.Salvaged{}
	if len(copies) > 0 {
		s, err := localdb.Salvage(ctx, copies[0], sealingOf(env)...)
		if err != nil {
			s = &localdb.Salvaged{Lost: []string{"no queued change could be read: " + err.Error()}}
		}
		salv = s
		for _, l := range salv.Lost {
			rep.Notes = append(rep.Notes, "not salvaged from "+copies[0]+": "+l)
		}
	}
	db, _, err := rebuildWith(ctx, env, cfg, salv)
	if err != nil {
		return err
	}
	defer db.Close()
	rep.Repaired = append(rep.Repaired, "a new local database was started")
	if len(copies) > 0 {
		rep.Repaired = append(rep.Repaired, fmt.Sprintf("%d unsent change(s) salvaged from the damaged copy %s and queued again (any the server already has is answered as sent before)",
			len(salv.Ops()), copies[0]))
	}
	if err := pullIntoNew(ctx, env, db, cfg, &rep); err != nil {
		return err
	}
	return finishDoctor(env, rep, true, asJSON, nil)
}

// sealingOf is the option that opens the data directory's files with its keys.
func sealingOf(env *Env) []localdb.Option {
	if env.keys == nil {
		return nil
	}
	return []localdb.Option{localdb.WithSealer(env.keys)}
}

// rebuildWith builds a new database holding the salvaged ops beside the
// one in cfg's data directory, puts it in that one's place (a damaged
// file there is kept aside, where kept says) and opens it. The new one is
// built under a name of its own and renamed to a name that says it is
// complete only once it is whole on disk: a kill before leaves the
// damaged file in place for the repair to run again, a kill after leaves
// the complete one for the next start to put in place (finishRepair).
func rebuildWith(ctx context.Context, env *Env, cfg config.Config, salv *localdb.Salvaged) (_ *localdb.DB, kept string, _ error) {
	s, err := schema()
	if err != nil {
		return nil, "", err
	}
	path := config.DBPath(cfg.DataDir)
	// A repair cut off while building left half a database: started over.
	if err := localdb.RemoveRepairing(path); err != nil {
		return nil, "", err
	}
	db, err := localdb.Open(ctx, localdb.RepairingPath(path), s, sealingOf(env)...)
	if err != nil {
		return nil, "", fmt.Errorf("create a new local database: %w", err)
	}
	if env.cutHere() {
		db.Close()
		return nil, "", errRepairCut
	}
	if err := db.RestoreOps(ctx, salv); err != nil {
		db.Close()
		return nil, "", err
	}
	if env.cutHere() {
		db.Close()
		return nil, "", errRepairCut
	}
	if err := db.Close(); err != nil {
		return nil, "", fmt.Errorf("create a new local database: %w", err)
	}
	// From the repaired name to the swap under the lock every start takes
	// to finish a repair (finishRepair): another command starting now
	// would otherwise see the repaired file, and move this repair's new
	// database aside as damaged once it is in place.
	release, err := lockRepairSwap(cfg.DataDir)
	if err != nil {
		return nil, "", err
	}
	defer release()
	if err := localdb.CompleteRepairing(ctx, path); err != nil {
		return nil, "", err
	}
	if env.cutHere() {
		return nil, "", errRepairCut
	}
	if kept, err = localdb.FinishRepair(path); err != nil {
		return nil, "", err
	}
	release()
	db, err = openWithKeys(ctx, env, cfg.DataDir, s, env.keys)
	if err != nil {
		return nil, "", fmt.Errorf("open the new local database: %w", err)
	}
	return db, kept, nil
}

// errRepairCut is what a repair a test cut short returns.
var errRepairCut = errors.New("the repair was cut short")

// cutHere reports whether a test cuts the repair short at this step.
func (env *Env) cutHere() bool { return env.hooks.cutRepair != nil && env.hooks.cutRepair() }

// repairLockName is the file in the data directory whose flock a
// repair's swap holds (the repaired database renamed into place, the
// damaged one aside), and every start while it finishes a repair cut
// off: the two must not interleave. FinishRepair looks for the repaired
// file and then moves the database aside; run beside a repair's own
// swap, it could look before the swap and move after it, taking the new
// database for the damaged one.
const repairLockName = "repair.lock"

// lockRepairSwap waits for and takes the data directory's repair lock.
func lockRepairSwap(dir string) (release func(), err error) {
	unlock, err := waitLockIn(dir, repairLockName)
	if err != nil {
		return nil, fmt.Errorf("finish the repair: %w", err)
	}
	var once sync.Once
	return func() { once.Do(unlock) }, nil
}

// finishRepair puts in place the complete database a repair cut off
// before its last renames left, and says so: every start runs it, before
// anything looks at the database, under the repair lock.
func finishRepair(env *Env, dir string) error {
	if _, err := os.Stat(localdb.RepairedPath(config.DBPath(dir))); errors.Is(err, os.ErrNotExist) {
		return nil // no repair to finish: no lock to take (the common start)
	}
	release, err := lockRepairSwap(dir)
	if err != nil {
		return err
	}
	defer release()
	kept, err := localdb.FinishRepair(config.DBPath(dir))
	if err != nil {
		return err
	}
	if kept != "" {
		fmt.Fprintf(env.Stderr, "casefile: finished a repair that was cut off: the repaired database is in place, the damaged one kept as %s\n",
			safetext.Line(kept))
	}
	return nil
}

// pullIntoNew fills a database a repair started anew from the server,
// when logged in, noting in rep what it did or why it did not.
func pullIntoNew(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config, rep *doctorReport) error {
	creds, cerr := loadCredentials(cfg)
	switch {
	case errors.Is(cerr, config.ErrNoCredentials):
		rep.Notes = append(rep.Notes, "not logged in: log in and sync to get the records back from the server")
	case cerr != nil:
		return cerr
	default:
		fullPull(ctx, env, db, cfg, creds, rep)
	}
	if st, err := db.Status(ctx); err == nil {
		rep.Cursor = st.Cursor
	}
	return nil
}

// fullPull pulls everything from the server into db for a repair, noting
// in rep what it brought or why it stopped (the next sync continues).
func fullPull(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config, creds credentials, rep *doctorReport) {
	s := syncer.New(db, syncOptions(env, cfg, creds))
	sum, err := s.Pull(ctx)
	s.Close()
	if err != nil {
		rep.Notes = append(rep.Notes, "the full pull from the server stopped: "+err.Error()+"; it continues at the next sync")
		return
	}
	rep.Repaired = append(rep.Repaired, fmt.Sprintf("pulled %d record(s) again from the server", sum.Pulled))
	rep.ServerHead = s.Head()
	if st, err := db.Status(ctx); err == nil {
		rep.Cursor = st.Cursor
	}
}

// finishDoctor prints the report and turns what remains into the exit code.
func finishDoctor(env *Env, rep doctorReport, repair, asJSON bool, remaining []string) error {
	rep.OK = len(remaining) == 0
	if asJSON {
		if err := printJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printDoctor(env, rep, repair)
	}
	if rep.OK {
		return nil
	}
	if repair {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d problem(s) remain after the repair", len(remaining))}
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%d problem(s) found; 'casefile doctor --repair' fixes what it can", len(remaining))}
}
