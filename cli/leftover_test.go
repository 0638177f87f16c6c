package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"casefile/config"
	"casefile/internal/leftover"
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
