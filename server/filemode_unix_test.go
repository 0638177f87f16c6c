//go:build unix

package server_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"casefile/server"
	"casefile/server/blobstore"
	"casefile/server/servertest"
	"casefile/server/store/sqlitestore"
)

// TestServerFilesArePrivate: in a data directory other users can enter
// (mode 0755, made by hand or by another program), every file the server
// writes — server.db, files/blobs.db, their WAL and shared memory, the
// chunks — is readable by its owner only, whatever the umask lets
// through; database files other users could read (copied in, or made by
// an older casefile) are made private when the server starts.
func TestServerFilesArePrivate(t *testing.T) {
	// The umask is the process's: this test does not run in parallel.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	// files/ too: made by an older casefile, or by hand.
	if err := os.MkdirAll(filepath.Join(dir, blobstore.DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, blobstore.DirName)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dbs := []string{filepath.Join(dir, sqlitestore.FileName), filepath.Join(dir, blobstore.DirName, blobstore.IndexName)}
	// serve starts a server on dir, stores a file and checks every file
	// the data directory holds while it runs (with the WAL and shared
	// memory); t's end stops it.
	runs := 0
	serve := func(t *testing.T) {
		t.Helper()
		srv := servertest.Start(t, func(o *server.Options) { o.DataDir = dir })
		runs++
		alice := srv.NewUser(t, "alice"+strconv.Itoa(runs), server.RoleMember)
		m := alice.CreateMatter(t, "Smith v Jones")
		data := randomData(t, 100)
		upload(t, alice, attach(t, alice, m.ID, data), data, 0)
		private := 0
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", p[len(dir):], perm)
			}
			private++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, db := range dbs {
			for _, p := range []string{db, db + "-wal", db + "-shm"} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s: %v", p[len(dir):], err)
				}
			}
		}
		if private < 7 {
			t.Errorf("checked %d files; want the 6 database files and a chunk at least", private)
		}
	}
	t.Run("made by the server", serve)

	// Readable by everyone, with a WAL and shared memory as a crash
	// leaves them.
	for _, db := range dbs {
		if err := os.Chmod(db, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{db + "-wal", db + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("readable by others before", serve)
}
