package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/localdb"
	"casefile/vault"
)

// cliCanary is a word no file of an encrypted data directory may hold.
const cliCanary = "Quillfeathercanary"

// plaintextIn lists the files under dir (the database, its WAL and shared
// memory, temporary files, anything) that hold needle in any case.
func plaintextIn(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range []string{needle, strings.ToLower(needle)} {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// A canary written through add, edit, import and export never lies in
// plaintext in the data directory, and search finds it by whole word.
func TestCLICanaryNeverInPlaintext(t *testing.T) {
	h := newHarness(t)
	matter := h.add("matter", "title=Privileged "+cliCanary)
	note := h.add("note", "matter_id="+matter, "title=First", "body=about "+cliCanary)
	h.ok("edit", note, "title=Renamed "+cliCanary)
	file := filepath.Join(t.TempDir(), "notes.jsonl")
	line := `{"matter_id":"` + matter + `","title":"imported ` + cliCanary + `"}` + "\n"
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("import", "note", "--file", file)
	if out := h.ok("export"); !strings.Contains(out, cliCanary) {
		t.Fatalf("the export to stdout lacks the canary: %s", out)
	}
	if out := h.ok("search", cliCanary); strings.Count(out, "\n") < 3 {
		t.Fatalf("search by a whole word found too little:\n%s", out)
	}
	if hits := plaintextIn(t, h.data, cliCanary); len(hits) > 0 {
		t.Fatalf("the canary is in plaintext in %v", hits)
	}
	r := h.run("export", "--out", filepath.Join(h.data, "all.jsonl"))
	if r.code == 0 || !strings.Contains(r.stderr, "inside the data directory") {
		t.Fatalf("an export into the data directory: %+v", r)
	}
	// Through a symbolic link to the data directory, or to a folder in
	// it, the export is refused as well.
	links := t.TempDir()
	for name, target := range map[string]string{"data": h.data, "files": filepath.Join(h.data, "files")} {
		if err := os.MkdirAll(target, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(links, name)
		if err := os.Symlink(target, link); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
		for _, out := range []string{filepath.Join(link, "all.jsonl"), filepath.Join(link, "new", "all.jsonl")} {
			r := h.run("export", "--out", out)
			if r.code == 0 || !strings.Contains(r.stderr, "inside the data directory") {
				t.Errorf("an export to %s, through a link into the data directory: %+v", out, r)
			}
		}
	}
	if hits := plaintextIn(t, h.data, cliCanary); len(hits) > 0 {
		t.Fatalf("the canary is in plaintext in %v", hits)
	}
}

// A wrong passphrase opens nothing and says so in one sentence.
func TestCLIWrongPassphrase(t *testing.T) {
	h := newHarness(t)
	h.add("matter", "title=Smith")
	before := h.snapshot()
	h.passphrase = "not the passphrase"
	r := h.run("list", "matter")
	if r.code != 1 || r.stdout != "" || !strings.HasSuffix(r.stderr, vault.ErrWrongPassphrase.Error()+"\n") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("wrong passphrase: %+v", r)
	}
	h.passphrase = testPassphrase
	if h.snapshot() != before {
		t.Fatal("a refused start changed the database")
	}
}

// An existing plaintext data directory is converted in place at the next
// start: same records and queue, nothing readable left in the files.
func TestCLIConvertsPlaintextDirectory(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{vault.FileName, config.DBFile} {
		if err := os.Remove(filepath.Join(h.data, name)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := schema()
	db, err := localdb.Open(context.Background(), config.DBPath(h.data), s)
	if err != nil {
		t.Fatal(err)
	}
	m, err := db.Create(context.Background(), "matter", "", map[string]any{"title": "Old " + cliCanary})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if hits := plaintextIn(t, h.data, cliCanary); len(hits) == 0 {
		t.Fatal("the plaintext fixture holds no canary: the check is blind")
	}
	r := h.run("show", m.ID)
	if r.code != 0 || !strings.Contains(r.stdout, cliCanary) || !strings.Contains(r.stderr, "encrypting the local database") {
		t.Fatalf("first start on a plaintext directory: %+v", r)
	}
	if hits := plaintextIn(t, h.data, cliCanary); len(hits) > 0 {
		t.Fatalf("after conversion the canary is in plaintext in %v", hits)
	}
	if q := h.ok("queue"); !strings.Contains(q, m.ID) {
		t.Fatalf("the queued create was lost:\n%s", q)
	}
}

// init chooses the passphrase of a new directory; passphrase changes it
// without touching the data; the old one then opens nothing.
func TestCLIInitAndPassphraseChange(t *testing.T) {
	h := newHarness(t)
	h.data = t.TempDir() // no key yet
	h.passphrase = "first passphrase"
	if out := h.ok("init"); !strings.Contains(out, "is encrypted") {
		t.Fatalf("init said %q", out)
	}
	id := h.add("matter", "title=Kept "+cliCanary)
	dbBefore, err := os.ReadFile(config.DBPath(h.data))
	if err != nil {
		t.Fatal(err)
	}
	// One read from a file with Windows line ends carries a carriage
	// return no terminal could type back: refused, nothing changed.
	h.env = map[string]string{EnvNewPassphrase: "second passphrase\r"}
	if r := h.run("passphrase"); r.code != 1 || !strings.Contains(r.stderr, "control character") {
		t.Fatalf("a new passphrase ending in a carriage return: %+v", r)
	}
	h.env = map[string]string{EnvNewPassphrase: "second passphrase"}
	h.ok("passphrase")
	if after, _ := os.ReadFile(config.DBPath(h.data)); !bytes.Equal(after, dbBefore) {
		t.Fatal("changing the passphrase rewrote the database")
	}
	if r := h.run("show", id); r.code != 1 || !strings.Contains(r.stderr, vault.ErrWrongPassphrase.Error()) {
		t.Fatalf("the old passphrase after a change: %+v", r)
	}
	h.passphrase = "second passphrase"
	if out := h.ok("show", id); !strings.Contains(out, cliCanary) {
		t.Fatalf("show with the new passphrase: %s", out)
	}
}

// TestStoredKeyPassphraseSaidAndEmptyRefused: a passphrase given for a
// directory whose key is stored unprotected (a script's first start had
// none) protects nothing: the command still runs, and says so in one line
// naming init; once init protects it, the warning stops. A passphrase
// variable set but empty (a script whose variable failed to fill) is
// refused, in a new directory before a key is stored unprotected, and in
// one that has a key.
func TestStoredKeyPassphraseSaidAndEmptyRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.data = t.TempDir() // no key yet
	h.passphrase = ""    // unset
	h.add("matter", "title=Made by a script")
	if info, err := vault.Stat(h.data); err != nil || !info.Generated {
		t.Fatalf("a start without a passphrase: key %+v, %v", info, err)
	}
	h.passphrase = "the script thinks this protects it"
	r := h.run("add", "matter", "title=Believed protected")
	if r.code != 0 || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "CASEFILE_PASSPHRASE is set, but the data in "+h.data+" is not protected by it") ||
		!strings.Contains(r.stderr, "casefile init") {
		t.Fatalf("a passphrase for a key stored unprotected: %+v", r)
	}

	h.passphrase = ""
	h.env = map[string]string{EnvPassphrase: ""}
	emptyRefused := func(what string, args ...string) {
		t.Helper()
		r := h.run(args...)
		if r.code != 1 || !strings.Contains(r.stderr, "CASEFILE_PASSPHRASE is set but empty") {
			t.Errorf("%s, with CASEFILE_PASSPHRASE empty: %+v", what, r)
		}
	}
	emptyRefused("a key stored unprotected", "list", "matter")
	fresh := h.data
	h.data = t.TempDir()
	emptyRefused("a new directory", "add", "matter", "title=Unprotected by accident")
	if info, err := vault.Stat(h.data); err != nil || info.Exists {
		t.Errorf("an empty passphrase left a key behind: %+v, %v", info, err)
	}
	h.data = fresh

	// init protects the key with the passphrase; from then on it is needed.
	h.env = nil
	h.passphrase = "now it protects it"
	h.ok("init")
	if r := h.run("list", "matter"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Believed protected") {
		t.Fatalf("list after init: %+v", r)
	}
	h.env = map[string]string{EnvPassphrase: ""}
	emptyRefused("a key with a passphrase", "list", "matter")
	h.env = map[string]string{EnvNewPassphrase: ""}
	if r := h.run("passphrase"); r.code != 1 || !strings.Contains(r.stderr, "CASEFILE_NEW_PASSPHRASE is set but empty") {
		t.Errorf("passphrase with CASEFILE_NEW_PASSPHRASE empty: %+v", r)
	}
}

// TestDemoKeyTakesNoPassphrase: the demo's data directories carry their key
// beside them on purpose; a passphrase in the environment (set for some
// other directory) is not warned about there, nor an empty one refused.
func TestDemoKeyTakesNoPassphrase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := ensureGeneratedKey(dir); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"for another directory", ""} {
		var stderr strings.Builder
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stderr, Stderr: &stderr, Getenv: func(string) string { return v },
			LookupEnv: func(string) (string, bool) { return v, true }, storedKeyMeant: true}
		if _, err := unlockKeys(env, dir); err != nil || stderr.Len() > 0 {
			t.Errorf("the demo's key with CASEFILE_PASSPHRASE=%q: %v, %q", v, err, stderr.String())
		}
	}
}
