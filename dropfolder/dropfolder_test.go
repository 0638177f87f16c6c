package dropfolder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"casefile/assets"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t      *testing.T
	db     *localdb.DB
	files  *localfiles.Dir
	root   string
	matter string
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	schema, err := model.ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(context.Background(), filepath.Join(dir, "casefile.db"), schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	files, err := localfiles.OpenDir(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := db.Create(context.Background(), model.MatterCollection, "", model.Fields{"title": "Smith v Jones / Appeal: 2026"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, files: files, root: filepath.Join(dir, "Inbox"), matter: m.ID, clock: &clock{t: time.Unix(1_800_000_000, 0)}}
}

func (f *fixture) watcher(keep bool) *Watcher {
	return New(f.db, f.files, Options{Root: f.root, KeepOriginals: keep, Now: f.clock.now})
}

func (f *fixture) folder(w *Watcher) string {
	f.t.Helper()
	folders, err := w.Folders(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for dir, id := range folders {
		if id == f.matter {
			return dir
		}
	}
	f.t.Fatal("no folder for the matter")
	return ""
}

func (f *fixture) scan(w *Watcher) int {
	f.t.Helper()
	n, err := w.Scan(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// documents returns the imported documents' filenames, sorted.
func (f *fixture) documents() []string {
	f.t.Helper()
	recs, err := f.db.List(context.Background(), localdb.ListQuery{Collection: "document"})
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Fields["filename"].(string))
	}
	sort.Strings(names)
	return names
}

func TestFolderNames(t *testing.T) {
	id := "0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41"
	for title, want := range map[string]string{
		"Smith v Jones":            "Smith v Jones (1d5e8b41)",
		"A/B: C*?\"<>|\x1b[31mred": "A B C 31mred (1d5e8b41)",
		"...":                      "Matter (1d5e8b41)",
	} {
		if got := FolderName(title, id); got != want {
			t.Errorf("FolderName(%q) = %q, want %q", title, got, want)
		}
	}
}

// A burst of 200 files, a slow writer, a rename-save and a file that
// vanishes, with a restart in the middle: each file is imported exactly
// once, as a document with its file attached and queued for upload.
func TestBurstSlowWriterRenameSaveAcrossRestart(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(false)
	dir := f.folder(w)
	for i := range 100 {
		write(t, filepath.Join(dir, fmt.Sprintf("scan-%03d.pdf", i)), fmt.Sprintf("page %d", i))
	}
	slow := filepath.Join(dir, "slow.txt")
	write(t, slow, "first half")
	write(t, filepath.Join(dir, ".~report.docx.tmp"), "draft")
	write(t, filepath.Join(dir, "gone.txt"), "here for a moment")
	if n := f.scan(w); n != 0 {
		t.Fatalf("the first look imported %d files; nothing has settled yet", n)
	}
	// The editor renames its temporary file over the real name; the other
	// file vanishes; the slow writer writes on.
	if err := os.Rename(filepath.Join(dir, ".~report.docx.tmp"), filepath.Join(dir, "report.docx")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	fo, _ := os.OpenFile(slow, os.O_APPEND|os.O_WRONLY, 0o600)
	fo.WriteString(", second half")
	fo.Close()
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 100 {
		t.Fatalf("imported %d, want the 100 settled scans", n)
	}

	// Restart: a new watcher, 100 more files.
	w = f.watcher(false)
	for i := 100; i < 200; i++ {
		write(t, filepath.Join(dir, fmt.Sprintf("scan-%03d.pdf", i)), fmt.Sprintf("page %d", i))
	}
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 102 {
		t.Fatalf("after the restart imported %d, want 100 scans, report.docx and slow.txt", n)
	}
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 0 {
		t.Fatalf("a quiet folder imported %d more", n)
	}
	docs := f.documents()
	if len(docs) != 202 {
		t.Fatalf("%d documents, want 202", len(docs))
	}
	for i := 1; i < len(docs); i++ {
		if docs[i] == docs[i-1] {
			t.Fatalf("%s imported twice", docs[i])
		}
	}
	files, err := f.db.Files(context.Background(), "")
	if err != nil || len(files) != 202 {
		t.Fatalf("%d attachments, %v", len(files), err)
	}
	ts, _ := f.db.Transfers(context.Background())
	if len(ts) != 202 {
		t.Fatalf("%d uploads queued, want 202", len(ts))
	}
	// Every original moved to imported/, nothing left to import.
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		if !e.IsDir() {
			t.Errorf("%s was left in the matter's folder", e.Name())
		}
	}
	moved, _ := os.ReadDir(filepath.Join(dir, ImportedDir))
	if len(moved) != 202 {
		t.Errorf("%d files in imported/, want 202", len(moved))
	}
	j, _ := f.db.Journal(context.Background(), localdb.JournalQuery{Limit: 1000})
	imports := 0
	for _, e := range j {
		if e.Kind == "import" {
			imports++
		}
	}
	if imports != 202 {
		t.Errorf("the journal has %d imports, want 202", imports)
	}
}

// Originals kept in place are not imported again by later passes or a
// restart; a file whose content changes is a new import.
func TestKeptOriginalsImportOnce(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(true)
	dir := f.folder(w)
	write(t, filepath.Join(dir, "letter.txt"), "v1")
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("imported %d, want 1", n)
	}
	for range 2 {
		w = f.watcher(true)
		f.scan(w)
		f.clock.add(DefaultQuiet)
		if n := f.scan(w); n != 0 {
			t.Fatalf("a kept original was imported again (%d)", n)
		}
	}
	write(t, filepath.Join(dir, "letter.txt"), "v2, signed")
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("a changed file: imported %d, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "letter.txt")); err != nil {
		t.Fatalf("the original was not kept: %v", err)
	}

	// A document the person deletes stays deleted while its original
	// sits in the folder: later passes and a restart leave it.
	recs, err := f.db.List(context.Background(), localdb.ListQuery{Collection: "document"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := f.db.Delete(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, restart := range []bool{false, true} {
		if restart {
			w = f.watcher(true)
		}
		f.scan(w)
		f.clock.add(DefaultQuiet)
		if n := f.scan(w); n != 0 || len(f.documents()) != 0 {
			t.Fatalf("a deleted document came back from its kept original (restart %v): imported %d, documents %q", restart, n, f.documents())
		}
	}
}

// The background watcher imports a burst through fsnotify and returns
// from Close.
func TestWatcherImportsInBackgroundAndCloses(t *testing.T) {
	f := newFixture(t)
	w := New(f.db, f.files, Options{Root: f.root, Quiet: 50 * time.Millisecond})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := f.folder(w)
	for i := range 30 {
		write(t, filepath.Join(dir, fmt.Sprintf("photo-%02d.jpg", i)), fmt.Sprintf("jpeg %d", i))
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(f.documents()) < 30 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling for the outcome, not timing it
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.documents()); n != 30 {
		t.Fatalf("%d documents, want 30", n)
	}
}

// TestOddNamesDoNotStopTheFolder: names a record's one-line fields cannot
// hold as they are (line breaks, bytes that are not UTF-8) are shown on
// one line, and every file of the folder is imported; before, the first
// such name stopped the scan, and every file after it, for good.
func TestOddNamesDoNotStopTheFolder(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(false)
	dir := f.folder(w)
	for _, name := range []string{"a\nline break.txt", "b \xff\xfe.txt", "\n", "z plain.txt"} {
		write(t, filepath.Join(dir, name), "bytes of "+name)
	}
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 4 {
		t.Fatalf("imported %d of 4", n)
	}
	if got, want := f.documents(), []string{" ", "a line break.txt", "b \ufffd.txt", "z plain.txt"}; !slices.Equal(got, want) {
		t.Fatalf("documents %q, want %q", got, want)
	}
}

// TestRedropAfterDeleteImportsAgain: a file dropped again, same name and
// bytes, after its document was deleted becomes a document again; before,
// the note of the first import swallowed it (moved to imported/, no
// document, nothing said).
func TestRedropAfterDeleteImportsAgain(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(false)
	dir := f.folder(w)
	contract := filepath.Join(dir, "contract.txt")
	write(t, contract, "the same bytes")
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("imported %d, want 1", n)
	}
	recs, err := f.db.List(context.Background(), localdb.ListQuery{Collection: "document"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d documents, %v", len(recs), err)
	}
	if err := f.db.Delete(context.Background(), recs[0].ID); err != nil {
		t.Fatal(err)
	}
	write(t, contract, "the same bytes")
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("the file dropped again after its document was deleted: imported %d, want 1", n)
	}
	if got := f.documents(); !slices.Equal(got, []string{"contract.txt"}) {
		t.Fatalf("documents %q, want the contract once", got)
	}
	// Not deleted, the same file dropped once more is still a duplicate.
	write(t, contract, "the same bytes")
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 0 {
		t.Fatalf("a file whose document is there was imported again (%d)", n)
	}
}

// TestFileStillOpenForWritingWaits: a writer that pauses longer than the
// quiet time keeps its file out of the import until it closes it; before,
// the first part was imported and the original moved away while the
// writer kept writing to it.
func TestFileStillOpenForWritingWaits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("open files are found through /proc")
	}
	f := newFixture(t)
	w := f.watcher(false)
	dir := f.folder(w)
	scan := filepath.Join(dir, "scan.pdf")
	out, err := os.Create(scan)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	first := strings.Repeat("page one ", 1000)
	if _, err := out.WriteString(first); err != nil {
		t.Fatal(err)
	}
	f.scan(w)
	f.clock.add(2 * DefaultQuiet) // the scanner pauses between pages
	if n := f.scan(w); n != 0 {
		t.Fatalf("imported %d while the file was still open for writing", n)
	}
	if _, err := os.Stat(scan); err != nil {
		t.Fatalf("the file being written was moved: %v", err)
	}
	if _, err := out.WriteString("page two"); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("imported %d once the writer closed the file, want 1", n)
	}
	recs, err := f.db.List(context.Background(), localdb.ListQuery{Collection: "document"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d documents, %v", len(recs), err)
	}
	if got, want := recs[0].Fields["size_bytes"], float64(len(first)+len("page two")); got != want {
		t.Fatalf("the document has %v bytes, want the whole file's %v", got, want)
	}
}

// growingStore appends to a dropped file while the watcher copies it, as
// a writer that woke up during the copy would.
type growingStore struct {
	*localfiles.Dir
	path string
	hash string // what the copy hashed to
}

func (s *growingStore) Import(src io.Reader) (string, int64, error) {
	b, err := io.ReadAll(src)
	if err != nil {
		return "", 0, err
	}
	if s.path != "" {
		out, err := os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return "", 0, err
		}
		out.WriteString(" and more")
		out.Close()
		s.path = ""
	}
	h, n, err := s.Dir.Import(bytes.NewReader(b))
	s.hash = h
	return h, n, err
}

// TestFileChangedDuringCopyIsLeft: a file written to while it is copied
// is not made a document from the half copy, nor moved away; once it
// settles again it is imported whole. Before, the half copy became the
// document and the original moved to imported/.
func TestFileChangedDuringCopyIsLeft(t *testing.T) {
	f := newFixture(t)
	store := &growingStore{Dir: f.files}
	w := New(f.db, store, Options{Root: f.root, Now: f.clock.now})
	dir := f.folder(w)
	p := filepath.Join(dir, "notes.txt")
	write(t, p, "the first part")
	store.path = p
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 0 {
		t.Fatalf("imported %d from a copy the file changed under", n)
	}
	if docs := f.documents(); len(docs) != 0 {
		t.Fatalf("documents %q from a half copy", docs)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the changed file was moved: %v", err)
	}
	if ok, _ := f.files.Has(store.hash); ok {
		t.Fatal("the half copy was left in the file store")
	}
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("imported %d once the file settled, want 1", n)
	}
	recs, _ := f.db.List(context.Background(), localdb.ListQuery{Collection: "document"})
	if len(recs) != 1 || recs[0].Fields["size_bytes"] != float64(len("the first part and more")) {
		t.Fatalf("documents %+v, want the whole file once", recs)
	}
}

// TestEditorFilesAndOddEntries: emacs' autosave and lock files are not
// documents; a link, a folder and a pipe are left, each named once in
// the log, however many passes see them.
func TestEditorFilesAndOddEntries(t *testing.T) {
	f := newFixture(t)
	var logged bytes.Buffer
	w := New(f.db, f.files, Options{Root: f.root, Now: f.clock.now, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	dir := f.folder(w)
	write(t, filepath.Join(dir, "draft.txt"), "saved")
	write(t, filepath.Join(dir, "#draft.txt#"), "autosaved")
	if err := os.Symlink("user@host.1234:1700000000", filepath.Join(dir, ".#draft.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "draft.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub\nfolder"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo-entry"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.scan(w)
	f.clock.add(DefaultQuiet)
	if n := f.scan(w); n != 1 {
		t.Fatalf("imported %d, want draft.txt alone", n)
	}
	f.clock.add(DefaultQuiet)
	f.scan(w)
	if got := f.documents(); !slices.Equal(got, []string{"draft.txt"}) {
		t.Fatalf("documents %q, want draft.txt alone", got)
	}
	log := logged.String()
	for _, name := range []string{"link.txt", "sub folder", "fifo-entry"} {
		if c := strings.Count(log, name); c != 1 {
			t.Errorf("%s is named %d times in the log, want once:\n%s", name, c, log)
		}
	}
	if strings.Contains(log, "sub\nfolder") {
		t.Errorf("a name broke a log line:\n%s", log)
	}
	if strings.Contains(log, ImportedDir) || strings.Contains(log, "draft.txt#") {
		t.Errorf("the log names the imported folder or an editor's file:\n%s", log)
	}
}
