package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"casefile/config"
	"casefile/internal/leftover"
	"casefile/localdb"
	"casefile/localfiles"
	"casefile/model"
	"casefile/vault"
)

// writeAged writes a file with the given age, as a write killed that long
// ago leaves it.
func writeAged(t *testing.T, path string, data []byte, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// namesIn lists the names in dir.
func namesIn(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Name())
	}
	return ns
}

// TestKilledWritesInTheDataDirectoryAreSwept: the temporary files that
// writes killed before their rename leave in the data directory (a key
// wrapped by a new passphrase, a token, a revoked device's export, the
// first start's note) are removed by the next command once they are a
// minute old; younger ones may be another casefile's, writing now, and
// stay. A passphrase change removes every key temporary file, however
// young: none may outlive it and open the data with a passphrase no
// longer in use.
func TestKilledWritesInTheDataDirectoryAreSwept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	key, err := os.ReadFile(filepath.Join(h.data, vault.FileName))
	if err != nil {
		t.Fatal(err)
	}
	stale := 2 * leftover.StaleAge
	for name, data := range map[string][]byte{
		"." + vault.FileName + ".tmp1234":                 key,
		"." + config.DBFile + ".starting.tmp77":           []byte("starting"),
		".unsent-20250101T000000.000000000Z.sealed.tmp88": []byte("sealed"),
		".credentials-99":                                 []byte(`{"token":"secret"}`),
		"." + config.DBFile + ".wiped.tmp5":               []byte("wiped"),
		"notes.txt":                                       []byte("not casefile's"),
		".credentials-backup":                             []byte("not casefile's either"),
	} {
		writeAged(t, filepath.Join(h.data, name), data, stale)
	}
	young := []string{"." + vault.FileName + ".tmp555", ".credentials-100"}
	for _, name := range young {
		writeAged(t, filepath.Join(h.data, name), key, 0)
	}
	h.ok("list", "matter")
	var left []string
	for _, n := range namesIn(t, h.data) {
		if strings.HasPrefix(n, ".") {
			left = append(left, n)
		}
	}
	if want := []string{".casefile.key.tmp555", ".credentials-100", ".credentials-backup"}; !slices.Equal(left, want) {
		t.Fatalf("hidden files after a command: %v, want %v", left, want)
	}
	if !slices.Contains(namesIn(t, h.data), "notes.txt") {
		t.Fatal("a file that is not casefile's was removed")
	}

	h.env = map[string]string{EnvNewPassphrase: "second passphrase"}
	h.ok("passphrase")
	for _, n := range namesIn(t, h.data) {
		if strings.HasPrefix(n, "."+vault.FileName+".tmp") {
			t.Errorf("%s outlived a passphrase change", n)
		}
	}
}

// TestExportSweepsItsKilledTemporaryFiles: a killed export --out leaves
// its temporary file, a plaintext dump of every record, beside the target;
// the next export there removes the ones a minute old (its own names
// only) and writes the file readable by its owner alone.
func TestExportSweepsItsKilledTemporaryFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed()
	dir := t.TempDir()
	stale := 2 * leftover.StaleAge
	for _, name := range []string{
		exportTempPrefix + "123", // this casefile's name
		".out.jsonl.456",         // the name earlier versions gave it
		".other.jsonl.789",       // another target's: the user's to judge
		".out.jsonl.bak",         // not a name casefile makes
	} {
		writeAged(t, filepath.Join(dir, name), []byte("plaintext"), stale)
	}
	writeAged(t, filepath.Join(dir, exportTempPrefix+"42"), []byte("another export, now"), 0)
	out := filepath.Join(dir, "out.jsonl")
	h.ok("export", "--out", out)
	want := []string{exportTempPrefix + "42", ".other.jsonl.789", ".out.jsonl.bak", "out.jsonl"}
	if got := namesIn(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after export: %v, want %v", got, want)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export's mode: %v %v", fi, err)
	}
}

// watchedStore serves one file whose reading pauses halfway to ask
// whether a file of the fetched name is already there: a kill at that
// moment would leave it, cut short.
type watchedStore struct {
	localfiles.Store
	data   []byte
	dst    string
	during bool // the name existed halfway
}

func (s *watchedStore) Open(string) (io.ReadCloser, error) {
	half := len(s.data) / 2
	return io.NopCloser(io.MultiReader(bytes.NewReader(s.data[:half]), readerFunc(func(p []byte) (int, error) {
		_, err := os.Lstat(s.dst)
		s.during = err == nil
		return 0, io.EOF
	}), bytes.NewReader(s.data[half:]))), nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestFetchNeverLeavesAPartFileUnderItsName: fetch writes a temporary file
// and links it into place whole, so a kill in the middle leaves no file
// cut short under the real name; the rerun sweeps the killed fetch's
// temporary file and gives the whole file.
func TestFetchNeverLeavesAPartFileUnderItsName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("exhibit "), 50000)
	s := &watchedStore{data: data, dst: filepath.Join(dir, "exhibit.pdf")}
	dst, err := copyOut(s, localdb.FileInfo{Attachment: model.Attachment{ID: "f1", Name: "exhibit.pdf"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.during {
		t.Error("exhibit.pdf existed before its bytes were all written")
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %s: %v", dst, err)
	}

	h := newHarness(t)
	_, note := h.seed()
	src := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(h.ok("attach", note, src))
	out := t.TempDir()
	// What a fetch killed halfway left: part of the file, under a
	// temporary name.
	writeAged(t, filepath.Join(out, fetchTempPrefix+"31337"), data[:len(data)/3], 2*leftover.StaleAge)
	got := strings.TrimSpace(h.ok("fetch", id, "--to", out))
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("fetched %s: %v, whole %v", got, err, bytes.Equal(b, data))
	}
	if names := namesIn(t, out); !slices.Equal(names, []string{"scan.pdf"}) {
		t.Fatalf("after the rerun the directory holds %v", names)
	}
	if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the fetched file's mode: %v %v", fi, err)
	}
	if r := h.run("fetch", id, "--to", out); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("a fetch over an existing file: %+v", r)
	}
	if names := namesIn(t, out); !slices.Equal(names, []string{"scan.pdf"}) {
		t.Fatalf("a refused fetch left %v", names)
	}
}

// TestInitSealsTheFileStore: init on a plaintext data directory says it
// is encrypted only once its attached files are too, not at the next
// command that happens to open the file store.
func TestInitSealsTheFileStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.data = t.TempDir()
	plain, err := localfiles.OpenDir(filepath.Join(h.data, localfiles.DirName))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := plain.Import(strings.NewReader("Settlement draft " + cliCanary)); err != nil {
		t.Fatal(err)
	}
	if hits := plaintextIn(t, filepath.Join(h.data, localfiles.DirName), cliCanary); len(hits) == 0 {
		t.Fatal("the plaintext fixture holds no canary: the check is blind")
	}
	if out := h.ok("init"); !strings.Contains(out, "is encrypted") {
		t.Fatalf("init said %q", out)
	}
	if hits := plaintextIn(t, filepath.Join(h.data, localfiles.DirName), cliCanary); len(hits) > 0 {
		t.Fatalf("after init the file store holds plaintext in %v", hits)
	}
}
