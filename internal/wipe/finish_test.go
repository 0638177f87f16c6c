package wipe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/vault"
)

var errCut = errors.New("cut off here")

// TestWipeCutOffIsFinished: a wipe stopped before any of its steps (as a
// kill would stop it) is finished by Finish, from its plan, to the same
// end as a wipe never stopped: the export holds the unsent changes and
// the note names it, the file never uploaded stays and the server's goes,
// the login and every copy of the database are gone. A wipe cut off after
// the database went used to leave the login, so the next sync, on a new
// empty database, was revoked again and wiped again: it deleted the file
// kept, and its note named a new, empty export.
func TestWipeCutOffIsFinished(t *testing.T) {
	for _, at := range []string{"", "login", "files", "note", "database", "plan"} {
		t.Run("cut before "+at, func(t *testing.T) {
			dir := t.TempDir()
			keys, err := vault.CreateWithCost(dir, []byte("correct horse battery"), vault.TestCost)
			if err != nil {
				t.Fatal(err)
			}
			p := Paths{DB: filepath.Join(dir, "casefile.db"), Credentials: filepath.Join(dir, "credentials.json"),
				Files: filepath.Join(dir, "files"), ExportDir: dir}
			ctx := context.Background()
			db, err := localdb.Open(ctx, p.DB, localdbtest.Schema(t), localdb.WithSealer(keys))
			if err != nil {
				t.Fatal(err)
			}
			matter, err := db.Create(ctx, "matter", "", model.Fields{"title": "Kept"})
			if err != nil {
				t.Fatal(err)
			}
			unsent, server := strings.Repeat("a", 64), strings.Repeat("b", 64)
			if _, err := db.Attach(ctx, matter.ID, model.Attachment{Name: "draft.txt", Size: 5, MediaType: "text/plain", SHA256: unsent}); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{unsent, server} {
				f := filepath.Join(p.Files, "sha256", h[:2], h)
				if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil || os.WriteFile(f, []byte("bytes"), 0o600) != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(p.Credentials, []byte(`{"token":"revoked"}`), 0o600); err != nil {
				t.Fatal(err)
			}

			step = func(s string) error {
				if s == at {
					return errCut
				}
				return nil
			}
			res, err := Revoked(ctx, db, keys, p, time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
			step = func(string) error { return nil }
			if at != "" && !errors.Is(err, errCut) || at == "" && err != nil {
				t.Fatalf("the wipe: %v", err)
			}
			if err := Finish(p); err != nil {
				t.Fatalf("finishing: %v", err)
			}
			if err := Finish(p); err != nil {
				t.Fatalf("finishing again: %v", err)
			}

			plain, err := ReadExport(keys, res.Export)
			if err != nil || strings.Count(string(plain), "\n") != 2 {
				t.Errorf("the export: %v, %d ops", err, strings.Count(string(plain), "\n"))
			}
			note, err := os.ReadFile(WipedNote(p.DB))
			if err != nil || !strings.Contains(string(note), filepath.Base(res.Export)) {
				t.Errorf("the note %q (%v) does not name %s", note, err, res.Export)
			}
			for _, gone := range []string{p.DB, p.Credentials, planPath(p.DB), filepath.Join(p.Files, "sha256", server[:2], server)} {
				if _, err := os.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s is still there: %v", filepath.Base(gone), err)
				}
			}
			if _, err := os.Stat(filepath.Join(p.Files, "sha256", unsent[:2], unsent)); err != nil {
				t.Errorf("the file never uploaded is gone: %v", err)
			}
		})
	}
}

// TestFinishKeepsALoginMadeSince: a login saved after the wipe was cut
// off (the person signed in again) is not the one the wipe deletes.
func TestFinishKeepsALoginMadeSince(t *testing.T) {
	dir := t.TempDir()
	keys, err := vault.CreateWithCost(dir, []byte("correct horse battery"), vault.TestCost)
	if err != nil {
		t.Fatal(err)
	}
	p := Paths{DB: filepath.Join(dir, "casefile.db"), Credentials: filepath.Join(dir, "credentials.json"),
		Files: filepath.Join(dir, "files"), ExportDir: dir}
	db, err := localdb.Open(context.Background(), p.DB, localdbtest.Schema(t), localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Credentials, []byte(`{"token":"revoked"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	step = func(s string) error {
		if s == "login" {
			return errCut
		}
		return nil
	}
	_, err = Revoked(context.Background(), db, keys, p, time.Now())
	step = func(string) error { return nil }
	if !errors.Is(err, errCut) {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Credentials, []byte(`{"token":"signed in again"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Finish(p); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p.Credentials); err != nil || !strings.Contains(string(b), "signed in again") {
		t.Errorf("the new login: %q, %v", b, err)
	}
}
