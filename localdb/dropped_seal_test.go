package localdb

import (
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
)

func dropImport(matter, path, hash string) DropImport {
	return DropImport{Path: path, Collection: "document",
		Fields: model.Fields{"matter_id": matter, "title": filepath.Base(path)},
		File:   model.Attachment{Name: filepath.Base(path), Size: 3, SHA256: hash, MediaType: "text/plain"}}
}

// A drop folder path names the matter's folder and the file: an encrypted
// database keeps only its keyed hash, still answers whether it was
// imported, and hashes the paths a database kept in plaintext before.
func TestSealedDropPathsAreHashed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	plain, err := Open(bg, path, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	m := syncedMatter(t, plain)
	hash := strings.Repeat("ab", 32)
	old := "/home/a/Casefile/Inbox/Pell (8b41)/" + canary + " old.pdf"
	if _, ok, err := plain.ImportDropped(bg, dropImport(m, old, hash)); err != nil || !ok {
		t.Fatalf("plaintext import: %v %v", ok, err)
	}
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}
	k := mustKeys(t)
	if err := Convert(bg, path, testSchema(t), k); err != nil {
		t.Fatal(err)
	}
	db, err := Open(bg, path, testSchema(t), WithSealer(k))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The file tables came along: the queued upload and the stored file.
	if ts, err := db.Transfers(bg); err != nil || len(ts) != 1 || ts[0].Hash != hash || ts[0].Direction != Upload {
		t.Fatalf("transfers after conversion: %+v, %v", ts, err)
	}
	newer := "/home/a/Casefile/Inbox/Pell (8b41)/" + canary + " new.pdf"
	rec, ok, err := db.ImportDropped(bg, dropImport(m, newer, hash))
	if err != nil || !ok {
		t.Fatalf("sealed import: %v %v", ok, err)
	}
	if _, ok, err := db.ImportDropped(bg, dropImport(m, newer, hash)); err != nil || ok {
		t.Fatalf("the same file imported twice: %v %v", ok, err)
	}
	for _, p := range []string{old, newer} {
		if _, ok, err := db.WasImported(bg, p, hash); err != nil || !ok {
			t.Fatalf("WasImported(%s) = %v, %v", p, ok, err)
		}
	}
	if id, _, _ := db.WasImported(bg, newer, hash); id != rec.ID {
		t.Fatalf("WasImported names %s, want %s", id, rec.ID)
	}
	if _, ok, _ := db.WasImported(bg, newer+"x", hash); ok {
		t.Fatal("another path counts as imported")
	}
	if hits := rawFilesHold(t, filepath.Dir(path), "Inbox/Pell"); len(hits) > 0 {
		t.Fatalf("a drop folder path is in plaintext in %v", hits)
	}
}
