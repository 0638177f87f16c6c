package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"casefile/config"
	"casefile/internal/safetext"
	"casefile/internal/wipe"
	"casefile/localdb"
	"casefile/model"
	"casefile/vault"
)

// EnvPassphrase gives the data directory's passphrase to scripts and
// tests; a person at a terminal is asked instead.
const EnvPassphrase = "CASEFILE_PASSPHRASE" // #nosec G101 -- the name of an environment variable, not a secret

// EnvNewPassphrase gives the new passphrase to `casefile passphrase` in scripts.
const EnvNewPassphrase = "CASEFILE_NEW_PASSPHRASE" // #nosec G101 -- the name of an environment variable, not a secret

// forgottenNote is said whenever a passphrase is chosen.
const forgottenNote = "Keep this passphrase safe: without it this device's copy cannot be opened. " +
	"What was synced stays on the server; 'casefile login' in a fresh data directory re-joins a device."

// generatedNote says what a key stored beside the data protects.
const generatedNote = "the local data is encrypted, but with a key stored beside it in " + vault.FileName +
	" (no passphrase was given): anyone holding the directory can read it. Run 'casefile passphrase' to protect it."

// storedKeyWarning tells a script that gave a passphrase for a directory
// whose key is stored unprotected that the passphrase protects nothing:
// the command runs (the key opens without it), but the script must not
// believe its data is protected.
const storedKeyWarning = "%s is set, but the data in %s is not protected by it: its key is stored unprotected beside it in " +
	vault.FileName + "; run 'casefile init' to protect it with the passphrase"

// passphraseFromEnv reads a passphrase from the variable name: ok is false
// when it is unset. One set but empty is refused: it is a script whose
// variable failed to fill, which would otherwise make, or open, a key
// stored unprotected without a word.
func passphraseFromEnv(env *Env, name string) (p []byte, ok bool, err error) {
	v, set := env.lookupEnv(name)
	if !set {
		return nil, false, nil
	}
	if v == "" {
		return nil, false, fmt.Errorf("%s is set but empty: put the passphrase in it, or unset it; nothing was opened or changed", name)
	}
	return []byte(v), true, nil
}

// errNeedPassphrase refuses to open an encrypted directory without a passphrase.
var errNeedPassphrase = fmt.Errorf("the local data is encrypted: give its passphrase in %s, or run casefile in a terminal", EnvPassphrase)

// terminalIn returns stdin when it is a terminal a person can answer on.
func terminalIn(env *Env) (*os.File, bool) {
	f, ok := env.Stdin.(*os.File)
	return f, ok && isTTY(f)
}

// askPassphrase reads a passphrase from a terminal, without echo.
func askPassphrase(env *Env, f *os.File, prompt string) ([]byte, error) {
	line, echoed, err := readHidden(f, env.Stderr, prompt)
	if err != nil {
		return nil, fmt.Errorf("read the passphrase: %w", err)
	}
	if echoed {
		fmt.Fprintln(env.Stderr, "(the passphrase was shown as you typed: this terminal cannot hide it)")
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

// choosePassphrase gets a new passphrase: from envName, or asked twice at
// a terminal. ok is false when neither is available.
func choosePassphrase(env *Env, envName string) (p []byte, ok bool, err error) {
	if p, ok, err := passphraseFromEnv(env, envName); ok || err != nil {
		if err != nil {
			return nil, false, err
		}
		return p, true, vault.CheckPassphrase(p)
	}
	f, isTerm := terminalIn(env)
	if !isTerm {
		return nil, false, nil
	}
	fmt.Fprintln(env.Stderr, "Casefile encrypts what it keeps on this device. Choose a passphrase (at least 8 characters).")
	fmt.Fprintln(env.Stderr, forgottenNote)
	for range 3 {
		first, err := askPassphrase(env, f, "New passphrase")
		if err != nil {
			return nil, false, err
		}
		if err := vault.CheckPassphrase(first); err != nil {
			fmt.Fprintln(env.Stderr, err)
			continue
		}
		again, err := askPassphrase(env, f, "The same passphrase again")
		if err != nil {
			return nil, false, err
		}
		if string(first) != string(again) {
			fmt.Fprintln(env.Stderr, "The two passphrases differ; once more.")
			continue
		}
		return first, true, nil
	}
	return nil, false, errors.New("no passphrase was chosen; nothing was changed")
}

// currentPassphrase gets the passphrase of an existing key: from
// $CASEFILE_PASSPHRASE, or asked once at a terminal.
func currentPassphrase(env *Env) ([]byte, error) {
	if p, ok, err := passphraseFromEnv(env, EnvPassphrase); ok || err != nil {
		return p, err
	}
	f, isTerm := terminalIn(env)
	if !isTerm {
		return nil, errNeedPassphrase
	}
	return askPassphrase(env, f, "Passphrase")
}

// unlockKeys returns the data directory's keys: unlocking its key file, or
// making one for a directory that has none. A new key is wrapped by a
// passphrase chosen at the terminal or given in $CASEFILE_PASSPHRASE;
// with neither (a script), it is stored beside the data and the person is
// told so once.
func unlockKeys(env *Env, dir string) (*vault.Keys, error) {
	info, err := vault.Stat(dir)
	if err != nil {
		return nil, err
	}
	if info.Exists {
		if info.Generated {
			if !env.storedKeyMeant {
				_, given, err := passphraseFromEnv(env, EnvPassphrase)
				if err != nil {
					return nil, err
				}
				if given {
					fmt.Fprintf(env.Stderr, "casefile: warning: "+storedKeyWarning+"\n", EnvPassphrase, safetext.Line(dir))
				}
			}
			return vault.Unlock(dir, nil)
		}
		p, err := currentPassphrase(env)
		if err != nil {
			return nil, err
		}
		return vault.Unlock(dir, p)
	}
	p, ok, err := choosePassphrase(env, EnvPassphrase)
	if err != nil {
		return nil, err
	}
	if err := beginFirstStart(dir); err != nil {
		return nil, err
	}
	if !ok {
		k, err := vault.CreateGenerated(dir)
		// Said to a person at a terminal; a script's captured output is
		// left as it was (casefile init tells, and protects it, any time).
		if f, isFile := env.Stderr.(*os.File); err == nil && isFile && isTTY(f) {
			fmt.Fprintf(env.Stderr, "casefile: note: %s\n", generatedNote)
		}
		return k, err
	}
	return vault.Create(dir, p)
}

// openSealed opens the data directory's database with its keys,
// converting a plaintext one in place first.
func openSealed(ctx context.Context, env *Env, dir string, schema *model.Schema) (*localdb.DB, error) {
	// A revocation's wipe cut off by a crash is finished first, from its
	// plan: before the database is opened and the login read, which it
	// deletes.
	if err := wipe.Finish(wipePaths(dir)); err != nil {
		return nil, err
	}
	// A repair cut off after its new database was complete is finished
	// next: until then the directory holds the damaged file, or none.
	if err := finishRepair(env, dir); err != nil {
		return nil, err
	}
	// Before the passphrase is asked: a database that is gone is said
	// without asking for what cannot bring it back.
	if err := checkDatabaseThere(env, dir); err != nil {
		return nil, err
	}
	keys, err := unlockKeys(env, dir)
	if err != nil {
		return nil, err
	}
	env.keys = keys
	db, err := openWithKeys(ctx, env, dir, schema, keys)
	if err != nil {
		return nil, err
	}
	if err := clearWipedNote(dir); err != nil {
		db.Close()
		return nil, err
	}
	if err := endFirstStart(dir); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openWithKeys opens the data directory's database with keys, converting a
// plaintext one in place first.
func openWithKeys(ctx context.Context, env *Env, dir string, schema *model.Schema, keys *vault.Keys) (*localdb.DB, error) {
	path := config.DBPath(dir)
	db, err := localdb.Open(ctx, path, schema, localdb.WithSealer(keys))
	if !errors.Is(err, localdb.ErrPlaintext) {
		return db, err
	}
	fmt.Fprintln(env.Stderr, "casefile: encrypting the local database (once; nothing queued is lost if this is interrupted)")
	if err := localdb.Convert(ctx, path, schema, keys); err != nil {
		return nil, err
	}
	return localdb.Open(ctx, path, schema, localdb.WithSealer(keys))
}

// ensureGeneratedKey gives a demo data directory a key stored beside it,
// so that the demo never asks for a passphrase.
func ensureGeneratedKey(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, err := vault.CreateGenerated(dir)
	if err != nil {
		if info, serr := vault.Stat(dir); serr == nil && info.Exists {
			return nil
		}
	}
	return err
}
