package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/config"
	"casefile/internal/safetext"
	"casefile/internal/wipe"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/syncer"
	"casefile/vault"
)

// revokedCommands are the commands of this file, for the command table.
func revokedCommands() []Command {
	return []Command{
		{
			Name:    "unsent",
			Usage:   "FILE",
			Summary: "Print the unsent changes a revoked device kept in its encrypted export (JSON lines)",
			Run:     runUnsent,
		},
	}
}

// unsentPrefix names the sealed exports of a revoked device's unsent changes.
const unsentPrefix = wipe.ExportPrefix

// isDeviceRevoked reports whether the server refused this device for good.
func isDeviceRevoked(err error) bool { return syncer.IsDeviceRevoked(err) }

// wipePaths are what a revocation's wipe of the data directory dir deletes.
func wipePaths(dir string) wipe.Paths {
	return wipe.Paths{DB: config.DBPath(dir), Credentials: config.CredentialsPath(dir),
		Files: filepath.Join(dir, localfiles.DirName), ExportDir: dir}
}

// wipeRevoked obeys a revocation (internal/wipe) and says what it did in
// the error that ends the command.
func wipeRevoked(ctx context.Context, env *Env, db *localdb.DB, dir string) error {
	res, err := wipe.Revoked(ctx, db, env.keys, wipePaths(dir), time.Now())
	if err != nil {
		return err
	}
	path := res.Export
	msg := fmt.Sprintf("this device was revoked by an administrator: its copy of the server's data was deleted; "+
		"%d unsent change(s) are kept, encrypted, in %s (read them with 'casefile unsent %s')", res.Unsent, path, path)
	if res.KeptFiles > 0 {
		msg += fmt.Sprintf("; the bytes of %d file(s) attached here and never uploaded stay, encrypted, in %s", res.KeptFiles, filepath.Join(dir, localfiles.DirName))
	}
	if res.Unsent == 0 {
		msg = fmt.Sprintf("this device was revoked by an administrator: its copy of the server's data was deleted (there were no unsent changes; %s is empty)", path)
	}
	return &ExitError{Code: exitLoggedOut, Err: errors.New(msg)}
}

// runUnsent decrypts a revoked device's export with the data directory's key.
func runUnsent(_ context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("name the export: casefile unsent FILE")
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	// The export opens with the key of the data directory that wrote it:
	// one that is not there has no key to try (and is not made here).
	if _, err := os.Stat(filepath.Join(cfg.DataDir, vault.FileName)); err != nil {
		return fmt.Errorf("no data directory with a key at %s: an export opens only with the key of the data directory that wrote it (--data DIR)", cfg.DataDir)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", pos[0], pathCause(err))
	}
	defer f.Close()
	keys, err := unlockKeys(env, cfg.DataDir)
	if err != nil {
		return err
	}
	plain, err := wipe.OpenExport(keys, f, strings.TrimSpace(filepath.Base(pos[0])))
	if errors.Is(err, vault.ErrTampered) {
		return fmt.Errorf("%s does not open with the key of %s: it was written by another data directory, or it was altered", pos[0], cfg.DataDir)
	}
	if err != nil {
		return err
	}
	// JSON lines of other people's text: printed with what a terminal
	// would act on escaped, as the same values.
	_, err = env.Stdout.Write(safetext.JSON(plain))
	return err
}
