package localdb

import (
	"strings"
	"testing"
)

// A drop folder import whose record was deleted no longer counts when the
// folder moves imported files away (DropImport.Again): the same path and
// bytes import again, once, as a new record.
func TestDroppedAgainAfterDelete(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Pell")
	path, hash := "/home/a/Casefile/Inbox/Pell (8b41)/contract.txt", strings.Repeat("cd", 32)
	first, ok, err := db.ImportDropped(bg, dropImport(m, path, hash))
	if err != nil || !ok {
		t.Fatalf("first import: %v %v", ok, err)
	}
	if err := db.Delete(bg, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.WasImported(bg, path, hash); err != nil || ok {
		t.Fatalf("WasImported after the delete = %v, %v; want false", ok, err)
	}
	// Where originals stay in the folder, the file seen again is the one
	// imported: the deleted document stays deleted.
	if _, ok, err := db.ImportDropped(bg, dropImport(m, path, hash)); err != nil || ok {
		t.Fatalf("a kept original imported again after its document's delete: %v %v", ok, err)
	}
	in := dropImport(m, path, hash)
	in.Again = true
	again, ok, err := db.ImportDropped(bg, in)
	if err != nil || !ok || again.ID == first.ID {
		t.Fatalf("dropped again after the delete: %v %v, %s", ok, err, again.ID)
	}
	if id, ok, err := db.WasImported(bg, path, hash); err != nil || !ok || id != again.ID {
		t.Fatalf("WasImported = %s %v %v, want %s", id, ok, err, again.ID)
	}
	if _, ok, err := db.ImportDropped(bg, in); err != nil || ok {
		t.Fatalf("imported a third time while the new record is there: %v %v", ok, err)
	}
}
