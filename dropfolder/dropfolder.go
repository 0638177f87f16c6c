// Package dropfolder watches a folder with a sub-folder per matter: a file
// dropped or saved there becomes a document of that matter with the file
// attached, once the file has stopped changing. Bursts are debounced, editors
// that save through a temporary file and a rename are followed, files that
// vanish are skipped, and a file is never imported twice, also across
// restarts (localdb keeps what was imported, by path and content).
package dropfolder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/transfer"
)

// DefaultQuiet is how long a file must stay unchanged before it is
// imported: long enough for a scanner or a browser to finish writing in
// bursts, short enough that a person sees the document appear while still
// looking.
const DefaultQuiet = 2 * time.Second

// ImportedDir is the sub-folder of a matter's folder that originals move
// to once imported (unless they are kept in place).
const ImportedDir = "imported"

// Options configure a Watcher.
type Options struct {
	Root string // the drop folder, e.g. ~/Casefile/Inbox
	// Quiet: a file unchanged this long is imported (DefaultQuiet if 0).
	Quiet time.Duration
	// KeepOriginals leaves imported files where they are; otherwise they
	// move to the matter folder's imported/ sub-folder.
	KeepOriginals bool
	Logger        *slog.Logger
	Now           func() time.Time
	// Imported, when set, is called after a watched pass imported files
	// (the UI kicks the transfer queue so they go up at once).
	Imported func()
}

// seen is what a file looked like when last observed.
type seen struct {
	size  int64
	mod   time.Time
	since time.Time // when it was first seen like this
	// refused: its import was refused (its record would break the
	// schema); it is tried again only once it changes.
	refused bool
	// imported: kept in place (Options.KeepOriginals) once imported; it
	// is not copied and looked up again until it changes.
	imported bool
}

// Watcher imports files from a drop folder into a device's database.
type Watcher struct {
	db    *localdb.DB
	files localfiles.Store
	opts  Options
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]seen // path → last observation
	folders map[string]string
	// told: what the log has said of a path that is left where it is
	// (not a regular file, still being written), said once while it
	// stays so.
	told map[string]string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	fsw    interface{ Close() error }
}

// New returns a watcher; Scan runs one pass, Start watches in the
// background.
func New(db *localdb.DB, files localfiles.Store, opts Options) *Watcher {
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Watcher{db: db, files: files, opts: opts, log: opts.Logger.With("component", "dropfolder"),
		pending: map[string]seen{}, folders: map[string]string{}, told: map[string]string{}}
}

var unsafeName = regexp.MustCompile(`[^\p{L}\p{N} ,.&'()_-]+`)

// FolderName is the name of a matter's folder: its title, made safe for
// every file system, and the end of its id, which finds the matter again
// when the title changes.
func FolderName(title, matterID string) string {
	t := strings.TrimSpace(unsafeName.ReplaceAllString(title, " "))
	t = strings.Join(strings.Fields(t), " ")
	t = strings.Trim(t, ". ")
	if r := []rune(t); len(r) > 60 {
		t = strings.TrimSpace(string(r[:60]))
	}
	if t == "" {
		t = "Matter"
	}
	return fmt.Sprintf("%s (%s)", t, idTail(matterID))
}

func idTail(id string) string {
	return strings.ReplaceAll(id, "-", "")[24:]
}

var tailPattern = regexp.MustCompile(`\(([0-9a-f]{8})\)$`)

// Folders creates a folder for every matter on the device that has none
// and returns the folders by path → matter id.
func (w *Watcher) Folders(ctx context.Context) (map[string]string, error) {
	matters, err := w.db.List(ctx, localdb.ListQuery{Collection: model.MatterCollection})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(w.opts.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create the drop folder: %w", err)
	}
	byTail := map[string]string{}
	for _, m := range matters {
		byTail[idTail(m.ID)] = m.ID
	}
	out := map[string]string{}
	entries, err := os.ReadDir(w.opts.Root)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if m := tailPattern.FindStringSubmatch(e.Name()); m != nil {
			if id, ok := byTail[m[1]]; ok {
				out[filepath.Join(w.opts.Root, e.Name())] = id
				have[id] = true
			}
		}
	}
	for _, m := range matters {
		if have[m.ID] {
			continue
		}
		title, _ := m.Fields["title"].(string)
		dir := filepath.Join(w.opts.Root, FolderName(title, m.ID))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create a matter's drop folder: %w", err)
		}
		out[dir] = m.ID
	}
	w.mu.Lock()
	w.folders = out
	w.mu.Unlock()
	return out, nil
}

// ignored reports names that are not (yet) a file a person dropped:
// hidden files and the temporary files of editors, browsers and copies.
// Emacs saves unsaved work as #name# (and locks a file it edits with a
// .#name link, hidden already).
func ignored(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") || strings.HasSuffix(name, "~") {
		return true
	}
	if len(name) > 1 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#") {
		return true
	}
	for _, ext := range []string{".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".swx"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// Scan observes every file in the matter folders and imports those that
// have not changed for the quiet time; it returns how many it imported.
func (w *Watcher) Scan(ctx context.Context) (int, error) {
	folders, err := w.Folders(ctx)
	if err != nil {
		return 0, err
	}
	now := w.opts.Now()
	var ready []string
	w.mu.Lock()
	present := map[string]bool{}
	told := map[string]string{}
	for dir := range folders {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // the folder went away meanwhile
		}
		for _, e := range entries {
			if ignored(e.Name()) || (e.IsDir() && e.Name() == ImportedDir) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			info, err := e.Info()
			if err != nil {
				continue // vanished meanwhile
			}
			if !info.Mode().IsRegular() {
				// A person who put a link, a folder or a pipe here
				// expected something of it: say once why nothing came.
				w.tell(told, p, "a dropped entry is not a regular file; left as it is", "kind", kindOf(info.Mode()))
				continue
			}
			present[p] = true
			s, ok := w.pending[p]
			if !ok || s.size != info.Size() || !s.mod.Equal(info.ModTime()) {
				w.pending[p] = seen{size: info.Size(), mod: info.ModTime(), since: now}
				continue
			}
			if now.Sub(s.since) >= w.opts.Quiet && !s.refused && !s.imported {
				ready = append(ready, p)
			}
		}
	}
	for p := range w.pending {
		if !present[p] {
			delete(w.pending, p) // vanished before it settled
		}
	}
	obs := make(map[string]seen, len(ready))
	for _, p := range ready {
		obs[p] = w.pending[p]
	}
	w.mu.Unlock()
	if len(ready) > 0 {
		// Unchanged for the quiet time is not finished when the writer
		// only paused (a scanner between pages, a stalled download):
		// a file still open for writing waits until it is closed.
		writing := openForWriting(w.opts.Root)
		settled := ready[:0]
		for _, p := range ready {
			if info, err := os.Lstat(p); err == nil && writing(info) {
				w.mu.Lock()
				w.tell(told, p, "a dropped file is still open for writing; left until it is closed")
				w.mu.Unlock()
				continue
			}
			settled = append(settled, p)
		}
		ready = settled
	}
	w.mu.Lock()
	for p, msg := range w.told {
		if _, ok := told[p]; !ok && present[p] {
			told[p] = msg // still here: a writer that pauses again is not said of again
		}
	}
	w.told = told // a path gone since is said of anew if it comes back
	w.mu.Unlock()
	n := 0
	for _, p := range ready {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		ok, err := w.importFile(ctx, p, folders[filepath.Dir(p)], obs[p])
		if errors.Is(err, errChanged) {
			// Left in place, still pending: the next pass sees it
			// changed and waits for it to settle again.
			w.log.Info("a dropped file changed while it was copied; left until it settles", "path", safetext.Line(p))
			continue
		}
		var probs model.Problems
		if errors.As(err, &probs) {
			// This file's record cannot be made; the others go on, and
			// it waits, named in the log, until it changes.
			w.log.Warn("a dropped file was not imported", "path", safetext.Line(p), "err", err)
			w.mu.Lock()
			if s, ok := w.pending[p]; ok {
				s.refused = true
				w.pending[p] = s
			}
			w.mu.Unlock()
			continue
		}
		if err != nil {
			return n, err
		}
		w.mu.Lock()
		if s, ok := w.pending[p]; ok && w.opts.KeepOriginals {
			s.imported = true // still in the folder: leave it be until it changes
			w.pending[p] = s
		} else {
			delete(w.pending, p)
		}
		w.mu.Unlock()
		if ok {
			n++
		}
	}
	return n, nil
}

// tell logs msg about path unless it was said in an earlier pass, and
// notes it in told, this pass's list; the caller holds w.mu.
func (w *Watcher) tell(told map[string]string, path, msg string, args ...any) {
	told[path] = msg
	if w.told[path] != msg {
		w.log.Warn(msg, append([]any{"path", safetext.Line(path)}, args...)...)
	}
}

// kindOf names what a non-regular entry is, for the log.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// errChanged: a file changed while it was copied; nothing was recorded.
var errChanged = errors.New("the file changed while it was copied")

// importFile imports one settled file, as the scan saw it (was); false if
// it vanished or was imported before, errChanged if it changed meanwhile.
func (w *Watcher) importFile(ctx context.Context, path, matterID string, was seen) (bool, error) {
	// Opened without waiting, and checked again once open: the scan saw
	// a regular file, but a named pipe put in its place would block the
	// open, and the watcher with it, until a writer came.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // #nosec G304 -- a file in the person's drop folder
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		w.log.Warn("cannot read a dropped file", "path", safetext.Line(path), "err", err)
		return false, nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		w.log.Warn("a dropped file is not a regular file; left as it is", "path", safetext.Line(path))
		return false, nil
	}
	head := make([]byte, 512)
	hn, _ := f.Read(head)
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return false, nil
	}
	hash, size, err := w.files.Import(f)
	after, serr := f.Stat()
	f.Close()
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", path, err)
	}
	// The copy is the file only if nothing wrote to it meanwhile and the
	// path still names it: otherwise it is a half copy, and the original
	// must stay where its writer (or the next pass) finds it.
	if now, lerr := os.Lstat(path); serr != nil || lerr != nil || !os.SameFile(after, now) ||
		after.Size() != size || size != was.size || !after.ModTime().Equal(was.mod) {
		w.dropCopy(ctx, hash)
		return false, errChanged
	}
	// A file's name may hold what a record's one-line fields do not: line
	// breaks, other control characters, bytes that are not UTF-8. The
	// record shows it on one line; the file itself keeps its name.
	name := oneLine(filepath.Base(path))
	title := strings.TrimSuffix(name, filepath.Ext(name))
	if title == "" {
		title = name
	}
	fields := model.Fields{
		model.MatterField: matterID,
		"title":           title,
		"filename":        name,
		"kind":            "other",
		"size_bytes":      float64(size),
		"sha256":          hash,
		"received_on":     w.opts.Now().Format("2006-01-02"),
	}
	_, imported, err := w.db.ImportDropped(ctx, localdb.DropImport{Path: path, Collection: "document", Fields: fields, Again: !w.opts.KeepOriginals,
		File: model.Attachment{Name: name, Size: size, SHA256: hash, MediaType: transfer.MediaType(name, head[:hn])}})
	if err != nil {
		return false, err
	}
	if !w.opts.KeepOriginals {
		if err := moveImported(path); err != nil {
			w.log.Warn("cannot move an imported file", "path", safetext.Line(path), "err", err)
		}
	}
	return imported, nil
}

// dropCopy removes from the file store a copy no record was made of,
// unless the device's database holds a file with the same bytes.
func (w *Watcher) dropCopy(ctx context.Context, hash string) {
	if known, err := w.db.HasLocalFile(ctx, hash); err != nil || known {
		return
	}
	if err := w.files.Remove(hash); err != nil {
		w.log.Warn("cannot remove the copy of a file that changed", "err", err)
	}
}

// moveImported moves a file to its folder's imported/ sub-folder, under a
// free name.
func moveImported(path string) error {
	dir := filepath.Join(filepath.Dir(path), ImportedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	name := filepath.Base(path)
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	dst := filepath.Join(dir, name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s (%d)%s", stem, i, ext))
	}
	return os.Rename(path, dst)
}

// oneLine is a file name as a one-line field takes it: control characters
// (line breaks among them) become spaces, bytes that are not UTF-8 U+FFFD.
func oneLine(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(name, "\uFFFD"))
}
