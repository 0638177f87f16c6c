package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"casefile/config"
	"casefile/internal/wipe"
	"casefile/vault"
)

// dbGoneError says that a data directory in use has lost its database:
// the file is missing, or empty. Making a new one in its place would show
// "No notes." and "Nothing is waiting to sync." as if nothing had been
// there, and the loss would go unnoticed until the server's records are
// missed, while unsent changes never come back.
type dbGoneError struct {
	name  string // the file's name, in the directory the caller names
	empty bool   // there, but 0 bytes
}

func (e *dbGoneError) Error() string { return e.problem() + ". " + e.advice() }

// problem says what is wrong.
func (e *dbGoneError) problem() string {
	what := "is missing"
	if e.empty {
		what = "is empty (0 bytes)"
	}
	return fmt.Sprintf("the local database %s %s: what it held (records, and changes not yet sent) is not here", e.name, what)
}

// advice says how to go on.
func (e *dbGoneError) advice() string {
	return "Put a copy of the file back if you have one; otherwise 'casefile doctor --repair' starts a new one " +
		"and, when logged in, pulls everything from the server again (changes never sent are lost)"
}

// checkDatabaseThere refuses to start a new database in a data directory
// that shows it was in use: its key file was there before this command
// (every command that makes a key makes the database right after it).
// A new directory, a command allowed to start one (env.startDB), a
// directory whose database a revocation's wipe deleted (its note says so)
// and one whose first start was cut off between making the key and
// making the database (its starting note says so) go on. A login alone does not show use: 'casefile login' in a fresh
// directory, then sync, is how a device joins.
func checkDatabaseThere(env *Env, dir string) error {
	if env.startDB {
		return nil
	}
	info, err := vault.Stat(dir)
	if err != nil || !info.Exists {
		return err
	}
	path := config.DBPath(dir)
	fi, err := os.Stat(path)
	switch {
	case err == nil && (fi.Size() > 0 || !fi.Mode().IsRegular()):
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil // SQLite's open says what is wrong
	}
	if _, err := os.Stat(wipe.WipedNote(path)); err == nil {
		return nil
	}
	if _, err := os.Stat(startingNote(dir)); err == nil {
		return nil
	}
	return &dbGoneError{name: config.DBFile, empty: err == nil}
}

// startingNote is the note a data directory's first start leaves while it
// makes the key and then the database. A kill between the two (or before
// SQLite wrote the new file's first page) leaves a key beside a missing or
// empty database, which would otherwise read as a database lost; the note
// says it was never made, so the next start makes it.
func startingNote(dir string) string { return config.DBPath(dir) + ".starting" }

// beginFirstStart writes the starting note, durably, before a data
// directory's key is made.
func beginFirstStart(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	return vault.WriteFileAtomic(startingNote(dir), []byte("casefile is making this directory's key and database; "+
		"this note goes when both are there\n"))
}

// endFirstStart removes the starting note once the database is open.
func endFirstStart(dir string) error {
	err := os.Remove(startingNote(dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// clearWipedNote removes a revocation's note once a database is there again.
func clearWipedNote(dir string) error {
	err := os.Remove(wipe.WipedNote(config.DBPath(dir)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
