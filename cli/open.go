package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"casefile/assets"
	"casefile/config"
	"casefile/internal/leftover"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
	"casefile/server/store/sqlitestore"
	"casefile/vault"
)

// readConfig reads the config file (--config, $CASEFILE_CONFIG or the
// default) and the environment, printing the file's warnings to env.Stderr.
func readConfig(env *Env) (config.Config, error) {
	path := env.ConfigPath
	if path == "" {
		path = env.Getenv(config.EnvConfig)
	}
	load := config.LoadEnv
	// A file named by --config or the environment must be there; only
	// the default path may be missing (loadConfig records the default in
	// env.ConfigPath, so a second read finds it named).
	if path != "" && path != config.DefaultPath() {
		load = config.LoadNamed
	}
	cfg, warnings, err := load(path, env.Getenv)
	for _, w := range warnings {
		fmt.Fprintf(env.Stderr, "casefile: warning: %s\n", safetext.Line(w))
	}
	return cfg, err
}

// loadConfig reads the config file (--config, $CASEFILE_CONFIG or the
// default), applies the environment and then the global flags, prints the
// file's warnings to env.Stderr, and records the resolved data directory and
// config path in env. Every command on a device's data directory finds it
// here, so here it removes what killed writes left in it (sweepDataDir).
func loadConfig(env *Env) (config.Config, error) {
	cfg, err := readConfig(env)
	if err != nil {
		return config.Config{}, err
	}
	// The --data flag wins over $CASEFILE_DATA and the file.
	if env.DataDir != "" {
		dir, err := config.ExpandHome(env.DataDir)
		if err != nil {
			return config.Config{}, fmt.Errorf("--data: %w", err)
		}
		cfg.DataDir = dir
	}
	cfg.DataDir = cfg.ResolvedDataDir()
	env.DataDir = cfg.DataDir
	env.ConfigPath = cfg.Path
	if err := notServerDir(cfg.DataDir); err != nil {
		return config.Config{}, err
	}
	if err := sweepDataDir(cfg.DataDir); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// sweepDataDir removes the temporary files that writes killed before
// their rename left in the data directory: a key file wrapped by a new
// passphrase, a login's token, a revoked device's export; and the
// plaintext files a terminal UI killed left (sweepDeadUIs). SIGKILL skips
// the writers' own clean-up, and nothing else would ever remove them. The
// data directory has no lock for its clients, so only files a minute old
// are taken: a younger one may be another casefile's, writing now.
func sweepDataDir(dir string) error {
	isTemp := func(name string) bool { return vault.IsTemp(name) || config.IsCredentialsTemp(name) }
	if err := leftover.Sweep(dir, isTemp, leftover.StaleAge); err != nil {
		return fmt.Errorf("remove the temporary files killed writes left in %s: %w", dir, err)
	}
	// The plaintext files of terminal UIs no longer running: no age
	// tells them, the lock each UI holds does.
	if err := sweepDeadUIs(dir); err != nil {
		return fmt.Errorf("remove the files of terminal UIs no longer running on %s: %w", dir, err)
	}
	return nil
}

// notServerDir refuses a server's data directory as a device's: both keep
// their files in a files directory, so each would take the other's for
// its own, and a server's sweep or a device's clean-up would delete them.
func notServerDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, sqlitestore.FileName)); err == nil {
		return fmt.Errorf("%s is a casefile server's data directory (it holds %s); a device keeps its data in a directory of its own: give another --data", dir, sqlitestore.FileName)
	}
	return nil
}

// notDeviceDir refuses a device's data directory as a server's
// (notServerDir's other side).
func notDeviceDir(dir string) error {
	for _, name := range []string{config.DBFile, vault.FileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s is a device's data directory (it holds %s); a server keeps its data in a directory of its own: give another --data", dir, name)
		}
	}
	return nil
}

// schema returns the embedded collection schema, parsed once.
var schema = sync.OnceValues(func() (*model.Schema, error) {
	return model.ParseSchema(assets.Schema)
})

// openLocal loads the config and opens the local database in the data
// directory (--data, $CASEFILE_DATA, the config's data_dir, or the default),
// creating the directory readable by the user only.
func openLocal(ctx context.Context, env *Env) (*localdb.DB, config.Config, error) {
	cfg, err := loadConfig(env)
	if err != nil {
		return nil, config.Config{}, err
	}
	db, err := openDB(ctx, env, cfg)
	if err != nil {
		return nil, config.Config{}, err
	}
	return db, cfg, nil
}

// openDB opens the local database of loaded settings.
func openDB(ctx context.Context, env *Env, cfg config.Config) (*localdb.DB, error) {
	s, err := schema()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	private := privatizes(config.DBPath(cfg.DataDir))
	db, err := openSealed(ctx, env, cfg.DataDir, s)
	if err != nil {
		return nil, fmt.Errorf("open the local database in %s: %w", cfg.DataDir, err)
	}
	if fi, err := os.Stat(cfg.DataDir); private && err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(env.Stderr, "casefile: warning: the data directory %s is open to other users (mode %#o): its files are yours alone, but others can list them and see their sizes; 'chmod 700 %s' closes it\n",
			safetext.Line(cfg.DataDir), fi.Mode().Perm(), safetext.Line(cfg.DataDir))
	}
	return db, nil
}

// privatizes reports whether opening the database at path makes it
// private: creates it 0600, or takes other users' permissions off it or
// its side files (localdb does both). Those are the moments to say that
// the directory around it is open to others: once, when the files are
// made or mended, rather than at every command of a script.
func privatizes(path string) bool {
	for i, p := range append([]string{path}, localdb.SidePaths(path)...) {
		fi, err := os.Stat(p)
		if i == 0 && errors.Is(err, os.ErrNotExist) || err == nil && fi.Mode().Perm()&0o077 != 0 {
			return true
		}
	}
	return false
}

// typing is how the person's typed dates and times are read: in their
// configured zone and date order, "today" counted from now.
func typing(cfg config.Config) (model.Input, error) {
	zone, err := cfg.Zone()
	if err != nil {
		return model.Input{}, err
	}
	return model.Input{Now: time.Now(), Zone: zone, Order: cmp.Or(cfg.DateOrder, config.DefaultDateOrder)}, nil
}

// printJSON writes v as indented JSON followed by a newline, with every
// character a terminal would act on escaped (safetext.JSON): the text of
// records is data, also when it goes out as JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(safetext.JSONWriter(w))
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// collection returns the named collection of the embedded schema (or the
// one whose name name uniquely begins), or an error that lists the
// collections there are.
func collection(name string) (*model.Collection, error) {
	s, err := schema()
	if err != nil {
		return nil, err
	}
	if c, ok := s.Collection(name); ok {
		return c, nil
	}
	// A unique beginning names a collection too: "time" is time_entry.
	var found []string
	for _, n := range s.Names() {
		if name != "" && strings.HasPrefix(n, name) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		c, _ := s.Collection(found[0])
		return c, nil
	case 0:
		return nil, fmt.Errorf("unknown collection %q (collections: %s)", name, strings.Join(s.Names(), ", "))
	}
	return nil, fmt.Errorf("%q could be any of %s; say which", name, strings.Join(found, ", "))
}

// checkID returns an error unless s is a record id or its first
// characters (at least minPrefix), which resolveRecord expands.
func checkID(s string) error { return checkIDOf(s, "record") }

// checkIDOf is checkID for an id of what, as the command names it (a
// file's id is its attachment record's).
func checkIDOf(s, what string) error {
	if !validRef(s) {
		return fmt.Errorf("%q is not a %s id (an id looks like 0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41; its first characters will do when no other id starts with them)", s, what)
	}
	return nil
}

// recordError turns the local database's sentinel errors about one record
// into sentences that name it.
func recordError(id string, err error) error {
	switch {
	case errors.Is(err, localdb.ErrNotFound):
		return fmt.Errorf("no record with id %s on this device", id)
	case errors.Is(err, localdb.ErrDeleted):
		return fmt.Errorf("record %s is deleted", id)
	case errors.Is(err, localdb.ErrExists):
		return fmt.Errorf("a record with id %s already exists", id)
	case errors.Is(err, localdb.ErrInConflict):
		return fmt.Errorf("record %s has a conflict waiting for review; resolve it first (casefile conflicts)", id)
	}
	return err
}

// usageError marks a mistake in a command's arguments: it is printed with
// the command's usage and exits 2.
func usageError(format string, a ...any) error {
	return flagError{fmt.Errorf(format, a...)}
}

// parseFields reads field=value arguments for a record of col, dates and
// times in the zone and date order cfg sets, and checks them against the
// schema: full for a new record (every required field given), otherwise as
// a change of some fields.
func parseFields(cfg config.Config, col *model.Collection, args []string, full bool) (model.Fields, error) {
	in, err := typing(cfg)
	if err != nil {
		return nil, err
	}
	fields, err := parseAssignments(col, args, in)
	if err != nil {
		return nil, err
	}
	if _, probs := col.Validate(fields, full); len(probs) > 0 {
		return nil, probs
	}
	return fields, nil
}

// parseAssignments reads field=value arguments for a record of col into
// the fields' JSON form (not yet validated by the schema), dates and times
// as in says. "field=" clears
// the field. A malformed argument is an error on its own; unknown fields,
// fields given twice and unreadable values are reported together.
func parseAssignments(col *model.Collection, args []string, in model.Input) (model.Fields, error) {
	fields := make(model.Fields, len(args))
	var probs model.Problems
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not field=value (missing \"=\"; fields of %s: %s)", arg, col.Name, strings.Join(col.FieldNames(), ", "))
		}
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("%q has no field name before \"=\"", arg)
		}
		f, ok := col.Field(name)
		if !ok {
			probs = append(probs, model.Problem{Collection: col.Name, Field: name, Message: "no such field (fields: " + strings.Join(col.FieldNames(), ", ") + ")"})
			continue
		}
		if _, dup := fields[name]; dup {
			probs = append(probs, model.Problem{Collection: col.Name, Field: name, Message: "is given more than once"})
			continue
		}
		v, err := f.ParseInputAt(value, in)
		if err != nil {
			probs = append(probs, model.Problem{Collection: col.Name, Field: name, Message: err.Error()})
			// Mark the field as seen so a repeat is still reported once.
			fields[name] = nil
			continue
		}
		fields[name] = v
	}
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return fields, nil
}
