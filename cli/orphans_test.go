package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"casefile/localfiles"
	"casefile/server/servertest"
	"casefile/vault"
)

// ageStored sets the time of the stored file of hash back by age, as if
// it had been placed that long ago.
func ageStored(t *testing.T, dir, hash string, age time.Duration) {
	t.Helper()
	at := time.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(dir, localfiles.DirName, "sha256", hash[:2], hash), at, at); err != nil {
		t.Fatal(err)
	}
}

// TestOrphanedFilesAreSwept: an attach killed after it placed the file's
// bytes in the store and before it committed the row naming them left
// them there for good. The next command that opens the store removes
// such a file once it is localfiles.OrphanAge old; a younger one may be
// an attach in another process about to commit, and stays. The file a
// revocation's wipe kept (never uploaded, named by its export and by no
// later database) stays however old, and so does every file a row names.
func TestOrphanedFilesAreSwept(t *testing.T) {
	t.Parallel()
	srv, _, h := aliceLoggedIn(t)
	_, note := h.seed()
	keptBytes := []byte("attached, never uploaded, kept by the wipe")
	keptSrc := filepath.Join(t.TempDir(), "kept.txt")
	if err := os.WriteFile(keptSrc, keptBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("attach", note, keptSrc)
	if err := srv.RevokeDevice(context.Background(), "alice", "test"); err != nil {
		t.Fatal(err)
	}
	if r := h.run("sync"); r.code != exitLoggedOut {
		t.Fatalf("sync of a revoked device: %+v", r)
	}
	kept := sha256Hex(keptBytes)
	if got := storedFiles(t, h.data); !slices.Equal(got, []string{kept}) {
		t.Fatalf("files after the wipe: %v, want the one never uploaded", got)
	}

	// Signed in again: a new database, which names no file yet.
	again, err := servertest.Login(context.Background(), srv.URL, "alice", servertest.Password, "again")
	if err != nil {
		t.Fatal(err)
	}
	h.login(srv.URL, again)
	_, note = h.seed()
	namedSrc := filepath.Join(t.TempDir(), "named.txt")
	if err := os.WriteFile(namedSrc, []byte("attached and named"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("attach", note, namedSrc)
	named := sha256Hex([]byte("attached and named"))

	// What two killed attaches left: bytes placed, no row.
	keys, err := vault.Unlock(h.data, []byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	store, err := localfiles.OpenDir(filepath.Join(h.data, localfiles.DirName), localfiles.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := store.Import(bytes.NewReader([]byte("a killed attach's, long ago")))
	if err != nil {
		t.Fatal(err)
	}
	young, _, err := store.Import(bytes.NewReader([]byte("an attach's, committing now")))
	if err != nil {
		t.Fatal(err)
	}
	for _, h2 := range []string{old, kept, named} {
		ageStored(t, h.data, h2, localfiles.OrphanAge+time.Minute)
	}
	ageStored(t, h.data, young, localfiles.OrphanAge-time.Minute)

	h.ok("files") // opens no store: sweeps nothing
	if got := storedFiles(t, h.data); len(got) != 4 {
		t.Fatalf("files after a command that does not open the store: %v", got)
	}
	another := filepath.Join(t.TempDir(), "another.txt")
	if err := os.WriteFile(another, []byte("another"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ok("attach", note, another)
	got := storedFiles(t, h.data)
	want := []string{kept, named, young, sha256Hex([]byte("another"))}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("files after the next attach: %v\nwant (all but the old orphan %s): %v", got, old, want)
	}
	if list, err := os.ReadFile(localfiles.KeptPath(filepath.Join(h.data, localfiles.DirName))); err != nil || string(list) != kept+"\n" {
		t.Fatalf("the list of kept files: %q (%v)", list, err)
	}
}
