package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/protocol"
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
const unsentPrefix = "unsent-"

// isDeviceRevoked reports whether the server refused this device for good.
func isDeviceRevoked(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && e.Code == protocol.CodeDeviceRevoked
}

// wipeRevoked obeys a revocation: it seals this device's unsent changes
// into an export in the data directory, then deletes the database (this
// device's copy of the server's data) and the login. The export comes
// first and is durable before anything is deleted: a crash in between
// leaves the database, and the next contact does it again.
func wipeRevoked(ctx context.Context, env *Env, db *localdb.DB, dir string) error {
	if env.keys == nil {
		return errors.New("this device was revoked, but its key is not at hand; nothing was deleted")
	}
	ops, err := db.Outbox(ctx)
	if err != nil {
		return err
	}
	name := unsentPrefix + time.Now().UTC().Format("20060102T150405Z") + ".sealed"
	path := filepath.Join(dir, name)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	for _, o := range ops {
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	var sealed bytes.Buffer
	w, err := env.keys.NewWriter(&sealed, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(plain.Bytes()); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := vault.WriteFileAtomic(path, sealed.Bytes()); err != nil {
		return err
	}
	// The bytes of files attached here and not yet uploaded stay (sealed)
	// beside the export; every other file is the server's and goes.
	ts, err := db.Transfers(ctx)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, t := range ts {
		if t.Direction == localdb.Upload {
			keep[t.Hash] = true
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := wipeFiles(filepath.Join(dir, localfiles.DirName), keep); err != nil {
		return err
	}
	dbPath := config.DBPath(dir)
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", config.CredentialsPath(dir)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", p, err)
		}
	}
	if err := vault.SyncDir(dir); err != nil {
		return err
	}
	msg := fmt.Sprintf("this device was revoked by an administrator: its copy of the server's data was deleted; "+
		"%d unsent change(s) are kept, encrypted, in %s (read them with 'casefile unsent %s')", len(ops), path, path)
	if len(keep) > 0 {
		msg += fmt.Sprintf("; the bytes of %d file(s) attached here and never uploaded stay, encrypted, in %s", len(keep), filepath.Join(dir, localfiles.DirName))
	}
	if len(ops) == 0 {
		msg = fmt.Sprintf("this device was revoked by an administrator: its copy of the server's data was deleted (there were no unsent changes; %s is empty)", path)
	}
	return &ExitError{Code: exitLoggedOut, Err: errors.New(msg)}
}

// wipeFiles deletes a file store's files except those whose hash is in
// keep, and every partial download and leftover import.
func wipeFiles(root string, keep map[string]bool) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || keep[d.Name()] && filepath.Base(filepath.Dir(filepath.Dir(p))) == "sha256" {
			return err
		}
		return os.Remove(p)
	})
	if err != nil {
		return fmt.Errorf("delete the files: %w", err)
	}
	return nil
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
	keys, err := unlockKeys(env, cfg.DataDir)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", pos[0], pathCause(err))
	}
	defer f.Close()
	plain, err := keys.OpenFile(f, strings.TrimSpace(filepath.Base(pos[0])))
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(plain)
	return err
}
