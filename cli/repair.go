package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"casefile/config"
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
// it: the damaged file (and its WAL) is renamed aside and kept, every
// queued op still readable in it is salvaged, a new database gets those
// ops back under their own ids, and a full pull brings back the rest from
// the server. The ops it could not read are named as what remains.
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
	aside := localdb.DamagedPath(path, time.Now())
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("keep the damaged database aside: %w", err)
	}
	if err := keepSidesAside(path, aside); err != nil {
		return fmt.Errorf("keep the damaged database aside: %w", err)
	}
	rep.Repaired = append(rep.Repaired, "the damaged file is kept as "+aside)
	// The damaged file is sealed with the data directory's key, unlocked
	// before the damage was found.
	var sealing []localdb.Option
	if env.keys != nil {
		sealing = append(sealing, localdb.WithSealer(env.keys))
	}
	salv, err := localdb.Salvage(ctx, aside, sealing...)
	if err != nil {
		salv = &localdb.Salvaged{Lost: []string{"no queued change could be read: " + err.Error()}}
	}
	// The damaged file is aside: the database this starts is a new one.
	env.startDB = true
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return fmt.Errorf("create a new local database: %w", err)
	}
	defer db.Close()
	if err := db.RestoreOps(ctx, salv); err != nil {
		return err
	}
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
// own.
func doctorGone(ctx context.Context, env *Env, gone *dbGoneError, repair, asJSON bool) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	rep := doctorReport{ServerHead: -1, Notes: []string{}, Repaired: []string{}, Problems: []string{gone.problem()}}
	if !repair {
		rep.Notes = append(rep.Notes, gone.advice())
		return finishDoctor(env, rep, false, asJSON, rep.Problems)
	}
	path := config.DBPath(cfg.DataDir)
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		// A WAL holds pages of what was there: kept, as a damaged file's.
		aside := localdb.DamagedPath(path, time.Now())
		if err := os.Rename(path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("keep the database's WAL aside: %w", err)
		}
		if err := keepSidesAside(path, aside); err != nil {
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
	env.startDB = true
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return fmt.Errorf("create a new local database: %w", err)
	}
	defer db.Close()
	rep.Repaired = append(rep.Repaired, "a new local database was started")
	if err := pullIntoNew(ctx, env, db, cfg, &rep); err != nil {
		return err
	}
	return finishDoctor(env, rep, true, asJSON, nil)
}

// keepSidesAside moves the side files of the database at path (its WAL,
// shared memory and journal) to the names of aside: SQLite finds them by
// the database's name, so they move along with it.
func keepSidesAside(path, aside string) error {
	to := localdb.SidePaths(aside)
	for i, from := range localdb.SidePaths(path) {
		if err := os.Rename(from, to[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
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
