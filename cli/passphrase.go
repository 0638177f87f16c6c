package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"casefile/vault"
)

// keyCommands are the commands of this file, for the command table.
func keyCommands() []Command {
	return []Command{
		{
			Name:    "init",
			Usage:   "",
			Summary: "Set up the data directory: choose the passphrase that encrypts it (asked twice, or $CASEFILE_PASSPHRASE)",
			Run:     runInit,
		},
		{
			Name:    "passphrase",
			Usage:   "",
			Summary: "Change the data directory's passphrase (re-wraps its key; nothing is re-encrypted)",
			Run:     runPassphrase,
		},
	}
}

// runInit makes the data directory and its key, and converts a plaintext
// database and file store already there. A directory that already has a passphrase is
// left alone; one whose key is stored unprotected gets the passphrase.
func runInit(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if err := parseNoArgs(fs, args, "init"); err != nil {
		return err
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	info, err := vault.Stat(cfg.DataDir)
	if err != nil {
		return err
	}
	if info.Exists && !info.Generated {
		fmt.Fprintf(env.Stdout, "%s is already encrypted with a passphrase ('casefile passphrase' changes it).\n", cfg.DataDir)
		return nil
	}
	p, ok, err := choosePassphrase(env, EnvPassphrase)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("choose a passphrase: run casefile init in a terminal, or give it in %s", EnvPassphrase)
	}
	var keys *vault.Keys
	if info.Exists {
		// A key stored unprotected (a script's first start) gets the passphrase.
		if err := vault.ChangePassphrase(cfg.DataDir, nil, p); err != nil {
			return err
		}
		keys, err = vault.Unlock(cfg.DataDir, p)
	} else {
		if err := beginFirstStart(cfg.DataDir); err != nil {
			return err
		}
		keys, err = vault.Create(cfg.DataDir, p)
	}
	if err != nil {
		return err
	}
	s, err := schema()
	if err != nil {
		return err
	}
	env.keys = keys
	db, err := openWithKeys(ctx, env, cfg.DataDir, s, keys)
	if err != nil {
		return err
	}
	defer db.Close()
	// Opening the file store seals the files a plaintext directory holds:
	// done here, not left to the next command that needs them, so that
	// "encrypted" below is true of the whole directory.
	if _, err := openFileStore(cfg.DataDir, keys); err != nil {
		return err
	}
	if err := endFirstStart(cfg.DataDir); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s is encrypted; its passphrase is asked when casefile starts (%s for scripts).\n", cfg.DataDir, EnvPassphrase)
	return nil
}

// runPassphrase changes the passphrase: the old one unwraps the data key,
// the new one wraps it again. The data is not touched.
func runPassphrase(_ context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	if err := parseNoArgs(fs, args, "passphrase"); err != nil {
		return err
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	info, err := vault.Stat(cfg.DataDir)
	if err != nil {
		return err
	}
	if !info.Exists {
		return errors.New("this data directory has no key yet; run casefile init")
	}
	var old []byte
	if !info.Generated {
		if old, err = currentPassphrase(env); err != nil {
			return err
		}
		// Checked before the new one is asked for: a typo is told at once.
		if _, err := vault.Unlock(cfg.DataDir, old); err != nil {
			return err
		}
	}
	p, ok, err := choosePassphrase(env, EnvNewPassphrase)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("choose the new passphrase in a terminal, or give it in %s", EnvNewPassphrase)
	}
	if err := vault.ChangePassphrase(cfg.DataDir, old, p); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "The passphrase is changed; the data was not re-encrypted (its key is the same, wrapped anew).")
	return nil
}
