// Package wipe obeys a device's revocation: it seals the device's unsent
// changes into an export, then deletes its copy of the server's data (the
// database, the file store but for the bytes of files never uploaded) and
// its login. The CLI's sync, the terminal UI and the simulation all wipe
// through Revoked.
package wipe

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"casefile/localdb"
	"casefile/localfiles"
	"casefile/vault"
)

// ExportPrefix names the sealed exports of a revoked device's unsent changes.
const ExportPrefix = "unsent-"

// exportHeader starts an export: it names, in the clear, the random id
// its chunks are sealed to. Sealed to the id and not to the file's name,
// an export opens whatever it is called once copied, mailed or renamed;
// sealed to an id of its own, no chunk of one export can be spliced into
// another made with the same key.
const exportHeader = "casefile unsent changes "

// wipedSuffix names the note a wipe leaves where the database was.
const wipedSuffix = ".wiped"

// WipedNote is the path of the note a wipe leaves beside the database db
// it deleted. A data directory whose database is missing is otherwise
// taken for one that lost it: the note says it was deleted on purpose, so
// the next start begins a new one. It goes when a database is there again.
func WipedNote(db string) string { return db + wipedSuffix }

// Paths are what a wipe deletes and where it keeps the export.
type Paths struct {
	DB          string // the database; every copy beside it goes with it (localdb.Copies)
	Credentials string // the login ("" when there is none to delete)
	Files       string // the file store's directory
	ExportDir   string // where the export is written (the data directory)
}

// Result says what a wipe did.
type Result struct {
	Export    string // the sealed export's path
	Unsent    int    // queued ops kept in it
	KeptFiles int    // files attached here and never uploaded, kept sealed
}

// Revoked seals db's unsent ops with keys into an export named for now,
// then closes db and deletes the device's copy. The export is durable
// before anything is deleted, and so is the wipe's plan (what to keep,
// which login to delete): a crash before the plan leaves the database,
// and the next contact wipes again; a crash after it is finished by the
// next start (Finish), from the plan, not from a new empty database that
// would know of no file to keep and no export to name.
func Revoked(ctx context.Context, db *localdb.DB, keys *vault.Keys, p Paths, now time.Time) (Result, error) {
	if keys == nil {
		return Result{}, errors.New("this device was revoked, but its key is not at hand; nothing was deleted")
	}
	ops, err := db.Outbox(ctx)
	if err != nil {
		return Result{}, err
	}
	name := ExportPrefix + now.UTC().Format("20060102T150405.000000000Z") + ".sealed"
	res := Result{Export: filepath.Join(p.ExportDir, name), Unsent: len(ops)}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	for _, o := range ops {
		if err := enc.Encode(o); err != nil {
			return Result{}, err
		}
	}
	sealed, err := sealExport(keys, plain.Bytes())
	if err != nil {
		return Result{}, err
	}
	if err := vault.WriteFileAtomic(res.Export, sealed); err != nil {
		return Result{}, err
	}
	// The bytes of files attached here and not yet uploaded stay (sealed)
	// beside the export; every other file is the server's and goes.
	ts, err := db.Transfers(ctx)
	if err != nil {
		return Result{}, err
	}
	pl := plan{Export: name, At: now.UTC()}
	for _, t := range ts {
		if t.Direction == localdb.Upload && !slices.Contains(pl.Keep, t.Hash) {
			pl.Keep = append(pl.Keep, t.Hash)
		}
	}
	res.KeptFiles = len(pl.Keep)
	if p.Credentials != "" {
		if pl.Login, err = fileDigest(p.Credentials); err != nil {
			return Result{}, err
		}
	}
	b, err := json.Marshal(pl)
	if err != nil {
		return Result{}, err
	}
	if err := vault.WriteFileAtomic(planPath(p.DB), b); err != nil {
		return Result{}, err
	}
	if err := db.Close(); err != nil {
		return Result{}, err
	}
	return res, Finish(p)
}

// planSuffix names the wipe's plan, beside the database, while it runs.
const planSuffix = ".wiping"

func planPath(db string) string { return db + planSuffix }

// plan is what a wipe under way must still do, written before it deletes
// anything. Plaintext: the export's name, the hashes of the files kept
// (the file store's names are those hashes already) and a digest of the
// login to delete.
type plan struct {
	Export string    `json:"export"`
	Keep   []string  `json:"keep,omitempty"`
	Login  string    `json:"login,omitempty"` // SHA-256 of the credentials file; "" when there was none
	At     time.Time `json:"at"`
}

// fileDigest is the SHA-256 of path's bytes, "" when there is no file.
func fileDigest(path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the data directory's credentials
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// step is called before each of Finish's steps; tests stop a wipe there.
var step = func(string) error { return nil }

// Finish completes the wipe whose plan is beside the database p.DB, if
// any: it deletes the login the plan names (not one signed in since), the
// file store but for the files kept, and every copy of the database,
// leaving the note; then the plan. Each step may be done again, so a wipe
// cut off at any point ends, at the next start, as it would have. With no
// plan it does nothing.
func Finish(p Paths) error {
	b, err := os.ReadFile(planPath(p.DB))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the plan of a wipe under way: %w", err)
	}
	var pl plan
	if err := json.Unmarshal(b, &pl); err != nil {
		return fmt.Errorf("read the plan of a wipe under way (%s): %w", planPath(p.DB), err)
	}
	if err := step("login"); err != nil {
		return err
	}
	if p.Credentials != "" && pl.Login != "" {
		now, err := fileDigest(p.Credentials)
		if err != nil {
			return err
		}
		if now == pl.Login {
			if err := os.Remove(p.Credentials); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("delete %s: %w", p.Credentials, err)
			}
		}
	}
	if err := step("files"); err != nil {
		return err
	}
	if err := keepFiles(p.Files, pl.Keep); err != nil {
		return err
	}
	keep, err := localfiles.ReadKept(p.Files)
	if err != nil {
		return err
	}
	for _, h := range pl.Keep {
		keep[h] = true
	}
	if err := wipeFiles(p.Files, keep); err != nil {
		return err
	}
	if err := step("note"); err != nil {
		return err
	}
	note := fmt.Sprintf("This device was revoked by an administrator on %s: its copy of the server's data was deleted, "+
		"and its unsent changes are kept, encrypted, in %s. The next start begins a new, empty database.\n",
		pl.At.Format(time.RFC3339), pl.Export)
	if err := vault.WriteFileAtomic(WipedNote(p.DB), []byte(note)); err != nil {
		return err
	}
	if err := step("database"); err != nil {
		return err
	}
	// Not only the database: its WAL, the conversion copy an interrupted
	// encryption left, and the damaged files doctor --repair kept aside
	// are each the whole former database (or part of it), sealed with
	// the same key.
	gone, err := localdb.Copies(p.DB)
	if err != nil {
		return err
	}
	for _, f := range gone {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", f, err)
		}
	}
	// The senders' lock files hold nothing of the data; they go with it.
	if err := os.RemoveAll(localdb.ClaimsDir(p.DB)); err != nil {
		return fmt.Errorf("delete %s: %w", localdb.ClaimsDir(p.DB), err)
	}
	if err := vault.SyncDir(filepath.Dir(p.DB)); err != nil {
		return err
	}
	if err := step("plan"); err != nil {
		return err
	}
	if err := os.Remove(planPath(p.DB)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return vault.SyncDir(filepath.Dir(p.DB))
}

// keepFiles adds hashes to the list of the files wipes kept in the store
// at root (localfiles.KeptPath), durably, before any file is deleted: the
// next database names none of them, and the store's sweep of files no
// database names passes by those listed. The files an earlier wipe kept
// stay listed, and kept: its export names them still.
func keepFiles(root string, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	kept, err := localfiles.ReadKept(root)
	if err != nil {
		return err
	}
	n := len(kept)
	for _, h := range hashes {
		kept[h] = true
	}
	if len(kept) == n {
		return nil // a wipe finished again
	}
	if err := vault.WriteFileAtomic(localfiles.KeptPath(root), localfiles.EncodeKept(kept)); err != nil {
		return fmt.Errorf("list the files kept: %w", err)
	}
	return vault.SyncDir(filepath.Dir(localfiles.KeptPath(root)))
}

// wipeFiles deletes a file store's files except the complete ones whose
// hash is in keep: every other file, partial download and leftover import.
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

// ReadExport decrypts an export with keys: the unsent ops as JSON lines.
func ReadExport(keys *vault.Keys, path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the person's named export
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return OpenExport(keys, f, filepath.Base(path))
}

// sealExport is an export of plain: its header with a new random id, and
// plain sealed to it.
func sealExport(keys *vault.Keys, plain []byte) ([]byte, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(raw[:])
	var sealed bytes.Buffer
	sealed.WriteString(exportHeader + id + "\n")
	w, err := keys.NewWriter(&sealed, exportHeader+id)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return sealed.Bytes(), nil
}

// OpenExport decrypts an export read from r whose file is called name.
// Exports written before they named an id were sealed to their own file's
// name: those open only as they were first called. vault.ErrTampered
// means another data directory's key, or an altered file.
func OpenExport(keys *vault.Keys, r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if rest, ok := bytes.CutPrefix(b, []byte(exportHeader)); ok {
		id, sealed, ok := bytes.Cut(rest, []byte("\n"))
		if !ok || len(id) != 32 {
			return nil, vault.ErrTampered
		}
		return keys.OpenFile(bytes.NewReader(sealed), exportHeader+string(id))
	}
	return keys.OpenFile(bytes.NewReader(b), name)
}
