package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"casefile/apiclient"
	"casefile/config"
	"casefile/internal/leftover"
	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/transfer"
	"casefile/vault"
)

// fileCommands are the commands of this file, for the command table.
func fileCommands() []Command {
	return []Command{
		{
			Name:    "attach",
			Usage:   "RECORD_ID FILE...",
			Summary: "Attach files to a record (kept on this device, uploaded by the next sync)",
			Run:     runAttach,
		},
		{
			Name:    "files",
			Usage:   "[RECORD_ID] [--json]",
			Summary: "List attached files (of one record, or all) with their state",
			Run:     runFiles,
		},
		{
			Name:    "fetch",
			Usage:   "FILE_ID [--to DIR]",
			Summary: "Download an attached file if needed and copy it to a directory",
			Run:     runFetch,
		},
		{
			Name:    "detach",
			Usage:   "FILE_ID...",
			Summary: "Remove attached files from their records",
			Run:     runDetach,
		},
		{
			Name:    "keep-offline",
			Usage:   "MATTER_ID all|small|none",
			Summary: "Choose which of a matter's files this device downloads without being asked (default: small)",
			Run:     runKeepOffline,
		},
	}
}

// openFiles opens the device's file store in the data directory, sealed
// with the data directory's keys (unlocked when its database was opened),
// and removes the files in it that killed attaches, imports and downloads
// left with no row of db naming them (localfiles.SweepOrphans): every
// command that uses the store, the terminal UI and sync among them. One
// listing of the store and one query through local_files' key; the files
// a revocation's wipe kept, which no database names, stay.
func openFiles(ctx context.Context, env *Env, db *localdb.DB, cfg config.Config) (*localfiles.Dir, error) {
	files, err := openFileStore(cfg.DataDir, env.keys)
	if err != nil {
		return nil, err
	}
	if _, err := files.SweepOrphans(func(hashes []string) ([]string, error) { return db.UnnamedFiles(ctx, hashes) }); err != nil {
		return nil, err
	}
	return files, nil
}

// openFileStore opens the file store of the data directory dir, its bytes
// sealed with keys when they are given.
func openFileStore(dir string, keys *vault.Keys) (*localfiles.Dir, error) {
	var opts []localfiles.Option
	if keys != nil {
		opts = append(opts, localfiles.WithSealer(keys))
	}
	return localfiles.OpenDir(filepath.Join(dir, localfiles.DirName), opts...)
}

func runAttach(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageError("name a record and at least one file")
	}
	if err := checkID(pos[0]); err != nil {
		return err
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	files, err := openFiles(ctx, env, db, cfg)
	if err != nil {
		return err
	}
	if pos[0], err = resolveRecord(ctx, db, pos[0]); err != nil {
		return err
	}
	// Every file is checked before any is attached: a bad one among
	// several must not leave those before it attached and the rest not.
	for _, path := range pos[1:] {
		if err := attachable(db.Schema(), path); err != nil {
			return fmt.Errorf("%w; nothing was attached", err)
		}
	}
	var attached []string
	for _, path := range pos[1:] {
		rec, err := transfer.AttachPath(ctx, db, files, pos[0], path)
		if err != nil {
			// A failure the checks could not foresee (the file changed or
			// the disk filled since): say what is attached already.
			err = fmt.Errorf("attach %q: %w", path, recordError(pos[0], err))
			if len(attached) > 0 {
				err = fmt.Errorf("%w; attached before it: %s", err, strings.Join(attached, ", "))
			}
			return err
		}
		attached = append(attached, fmt.Sprintf("%q", filepath.Base(path)))
		fmt.Fprintln(env.Stdout, rec.ID)
	}
	return nil
}

// attachable checks that path names a regular file whose name the schema
// takes as an attachment's name, naming the file in the error.
func attachable(schema *model.Schema, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("attach %q: %w", path, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("attach %q: it is not a regular file", path)
	}
	col, ok := schema.Collection(model.AttachmentCollection)
	if !ok {
		return nil // Attach says so
	}
	if f, ok := col.Field("name"); ok {
		if _, err := f.Normalize(filepath.Base(path)); err != nil {
			return fmt.Errorf("attach %q: its name %w", path, err)
		}
	}
	return nil
}

func runFiles(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print the files as JSON")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("name at most one record")
	}
	record := ""
	if len(pos) == 1 {
		if err := checkID(pos[0]); err != nil {
			return err
		}
		record = pos[0]
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if record != "" {
		if record, err = resolveRecord(ctx, db, record); err != nil {
			return err
		}
	}
	list, err := db.Files(ctx, record)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]shownFile, len(list))
		for i, f := range list {
			out[i] = shownFile{ID: f.ID, Record: f.RecordID, Matter: f.MatterID, Name: f.Name, Size: f.Size, MediaType: f.MediaType,
				SHA256: f.SHA256, State: string(f.State), StateText: f.StateText(), Done: f.Done, Error: f.Error, Local: f.Local}
		}
		return printJSON(env.Stdout, out)
	}
	recordIDs := make([]string, len(list))
	for i, f := range list {
		recordIDs[i] = f.RecordID
	}
	short, err := db.ShortIDs(ctx, recordIDs, shortIDLen)
	if err != nil {
		return err
	}
	t := newTable(env.Stdout, "ID", "NAME", "SIZE", "STATE", "RECORD")
	for _, f := range list {
		t.row(f.ID, f.Name, byteSize(f.Size), f.StateText(), short[f.RecordID])
	}
	return t.flush()
}

// shownFile is a file as files --json prints it.
type shownFile struct {
	ID        string `json:"id"`
	Record    string `json:"record_id"`
	Matter    string `json:"matter_id"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"`
	SHA256    string `json:"sha256"`
	State     string `json:"state"`
	StateText string `json:"state_text"`
	Done      int64  `json:"done_bytes,omitempty"`
	Error     string `json:"error,omitempty"`
	Local     bool   `json:"local"`
}

// byteSize writes a size for people.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// transferEngine builds the transfer engine of the device from the saved
// login; progress, when not nil, hears every chunk.
func transferEngine(db *localdb.DB, files localfiles.Store, cfg config.Config, progress func(transfer.Progress)) (*transfer.Engine, error) {
	creds, err := loadCredentials(cfg)
	if errors.Is(err, config.ErrNoCredentials) {
		return nil, &ExitError{Code: exitLoggedOut, Err: err}
	}
	if err != nil {
		return nil, err
	}
	api, err := apiclient.NewClient(creds.Server, creds.Token, nil, apiclient.WithUser(creds.User), apiclient.WithRequestTimeout(cfg.RequestTimeout))
	if err != nil {
		return nil, err
	}
	return transfer.New(db, files, api, transfer.Options{Progress: progress}), nil
}

// progressPrinter writes transfer progress to w, one line per change of
// whole percent, so a log stays short and a terminal shows movement.
func progressPrinter(w io.Writer) func(transfer.Progress) {
	last := map[string]int64{}
	return func(p transfer.Progress) {
		pct := int64(100)
		if p.Total > 0 {
			pct = p.Done * 100 / p.Total
		}
		key := p.AttachmentID + string(p.Direction)
		if prev, ok := last[key]; ok && prev == pct {
			return
		}
		last[key] = pct
		verb := "uploading"
		if p.Direction == localdb.Download {
			verb = "downloading"
		}
		line := fmt.Sprintf("%s %s: %d %% of %s", verb, safetext.Line(p.Name), pct, byteSize(p.Total))
		if p.Rate > 0 {
			line += fmt.Sprintf(", %s/s", byteSize(int64(p.Rate)))
			if p.ETA > 0 {
				line += ", " + p.ETA.Round(time.Second).String() + " left"
			}
		}
		fmt.Fprintln(w, line)
	}
}

func runFetch(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", ".", "the directory to copy the file to")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("name exactly one file by its id")
	}
	if err := checkIDOf(pos[0], "file"); err != nil {
		return err
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	id, err := resolveRecord(ctx, db, pos[0])
	if err != nil {
		return err
	}
	if inside(cfg.DataDir, *to) {
		return fmt.Errorf("%s is inside the data directory, where the file would lie in plaintext beside the encrypted data; choose another directory with --to", *to)
	}
	files, err := openFiles(ctx, env, db, cfg)
	if err != nil {
		return err
	}
	f, err := db.File(ctx, id)
	if err != nil {
		return fileError(id, err)
	}
	if !f.Local {
		eng, err := transferEngine(db, files, cfg, progressPrinter(env.Stderr))
		if err != nil {
			return err
		}
		if err := eng.Fetch(ctx, f.ID); err != nil {
			return fmt.Errorf("download %s: %w", safetext.Line(f.Name), err)
		}
	}
	dst, err := copyOut(files, f, *to)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, dst)
	return nil
}

// fetchTempPrefix names a fetch's temporary file in the target directory;
// os.CreateTemp adds a random number.
const fetchTempPrefix = ".casefile-fetch-"

// copyOut copies a local file to dir under its name, never over an
// existing file. The bytes go to a temporary file, readable by its owner
// only, that takes the name once whole and on disk: a fetch killed in the
// middle leaves no file cut short under the name (which its rerun would
// refuse to replace), only the temporary file, which the next fetch to
// dir removes once it is a minute old.
func copyOut(files localfiles.Store, f localdb.FileInfo, dir string) (string, error) {
	name := filepath.Base(f.Name)
	if name == "." || name == ".." || name == string(filepath.Separator) || !safetext.Safe(name) {
		name = f.ID
	}
	dst := filepath.Join(dir, name)
	isTemp := func(name string) bool { return leftover.Made(name, fetchTempPrefix) }
	if err := leftover.Sweep(dir, isTemp, leftover.StaleAge); err != nil {
		return "", fmt.Errorf("remove what killed fetches left in %s: %w", dir, err)
	}
	exists := fmt.Errorf("%s already exists; choose another directory with --to", dst)
	// Said before the copy, rather than after copying a big file for nothing.
	if _, err := os.Lstat(dst); err == nil {
		return "", exists
	}
	r, err := files.Open(f.SHA256)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", safetext.Line(f.Name), err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(dir, fetchTempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name()) // once placed, the file keeps its other name
	_, err = io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	if err := placeNew(tmp.Name(), dst); errors.Is(err, os.ErrExist) {
		return "", exists
	} else if err != nil {
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	return dst, nil
}

// placeNew gives the file tmp the name dst too, never replacing a file
// there: a hard link fails when the name is taken. Where the file system
// has no hard links (FAT and exFAT, on many USB sticks) it checks that the
// name is free and renames: a file another program makes under the name
// between the two is replaced, a race casefile leaves open there.
func placeNew(tmp, dst string) error {
	err := os.Link(tmp, dst)
	if err == nil || errors.Is(err, os.ErrExist) {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return os.ErrExist
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, dst)
}

func fileError(id string, err error) error {
	if errors.Is(err, localdb.ErrNotAttachment) {
		return fmt.Errorf("no file with id %s on this device (see casefile files)", id)
	}
	return err
}

func runDetach(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("name at least one file by its id")
	}
	for _, id := range pos {
		if err := checkIDOf(id, "file"); err != nil {
			return err
		}
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, id := range pos {
		id, err := resolveRecord(ctx, db, id)
		if err != nil {
			return err
		}
		if _, err := db.File(ctx, id); err != nil {
			return fileError(id, err)
		}
		if err := db.Delete(ctx, id); err != nil {
			return recordError(id, err)
		}
	}
	return nil
}

func runKeepOffline(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("name a matter and one of all, small, none")
	}
	mode := localdb.KeepOffline(pos[1])
	if mode != localdb.KeepAll && mode != localdb.KeepSmall && mode != localdb.KeepNone {
		return usageError("keep-offline takes all, small or none, not %q", pos[1])
	}
	db, _, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	matter, err := resolveMatter(ctx, db, pos[0])
	if err != nil {
		return err
	}
	if err := db.SetKeepOffline(ctx, matter, mode); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "This device now keeps %s of matter %s offline; the next sync fetches or lets go of files to match.\n",
		map[localdb.KeepOffline]string{localdb.KeepAll: "every file", localdb.KeepSmall: "the small files", localdb.KeepNone: "no file"}[mode], matter)
	return err
}
