package wipe

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/vault"
)

// TestExportOpensRenamedButNotSpliced: an export opens whatever its file is
// called; one whose sealed chunks come from another export of the same
// key does not; an export written before exports named an id opens under
// the name it was sealed to.
func TestExportOpensRenamedButNotSpliced(t *testing.T) {
	keys, err := vault.CreateWithCost(t.TempDir(), []byte("correct horse battery"), vault.TestCost)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sealExport(keys, bytes.Repeat([]byte("A's unsent change\n"), 10000))
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealExport(keys, []byte("B's unsent change\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"unsent-20261205T120000.000000000Z.sealed", "renamed by a mail program.sealed"} {
		plain, err := OpenExport(keys, bytes.NewReader(a), name)
		if err != nil || !bytes.HasPrefix(plain, []byte("A's unsent change\n")) {
			t.Fatalf("export A as %q: %v", name, err)
		}
	}
	// A's header (its id) before B's sealed chunks.
	headerA, _, _ := bytes.Cut(a, []byte("\n"))
	_, bodyB, _ := bytes.Cut(b, []byte("\n"))
	spliced := append(append(append([]byte{}, headerA...), '\n'), bodyB...)
	if _, err := OpenExport(keys, bytes.NewReader(spliced), "x.sealed"); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("a spliced export opened: %v", err)
	}
	// Before ids: sealed to the file's own name.
	var old bytes.Buffer
	w, err := keys.NewWriter(&old, "unsent-20261101T000000.000000000Z.sealed")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("an older export\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if plain, err := OpenExport(keys, bytes.NewReader(old.Bytes()), "unsent-20261101T000000.000000000Z.sealed"); err != nil || string(plain) != "an older export\n" {
		t.Fatalf("an older export under its own name: %q, %v", plain, err)
	}
}

// TestRevokedDeletesEveryCopyOfTheDatabase: besides the database and its
// WAL, the files a data directory can hold the former database in (a
// damaged file doctor --repair kept aside, with its WAL and salvage copy;
// the conversion copy an interrupted encryption left) are each deleted;
// the key, the log and a file that only begins with the same letters stay.
func TestRevokedDeletesEveryCopyOfTheDatabase(t *testing.T) {
	dir := t.TempDir()
	keys, err := vault.CreateWithCost(dir, []byte("correct horse battery"), vault.TestCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "casefile.db")
	db, err := localdb.Open(context.Background(), path, localdbtest.Schema(t), localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	aside := localdb.DamagedPath(path, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC))
	copies := []string{aside, aside + "-wal", aside + "-shm", aside + ".salvage", aside + ".salvage-wal",
		path + ".sealing", path + ".sealing-journal"}
	kept := []string{vault.FileName, "casefile.log", "casefile.dbx", "other.db"}
	for _, name := range copies {
		if err := os.WriteFile(name, []byte("SQLite format 3\x00 the former database"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range kept[1:] {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Revoked(context.Background(), db, keys, Paths{DB: path, Files: filepath.Join(dir, "files"), ExportDir: dir}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(copies, path, path+"-wal", path+"-shm") {
		if _, err := os.Stat(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there after the wipe: %v", filepath.Base(name), err)
		}
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the wipe deleted %s: %v", name, err)
		}
	}
}
