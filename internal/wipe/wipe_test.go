package wipe

import (
	"bytes"
	"errors"
	"testing"

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
