package localdb

import (
	"fmt"
	"strings"
	"testing"

	"casefile/model"
)

// TestDeleteTakesItsFiles: a record's attached files are deleted with it,
// in one change; one undo brings the record and its files back; another
// record's files and a matter's delete are untouched by it.
func TestDeleteTakesItsFiles(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := mustMatter(t, db, "Files")
		note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "has files"})
		other := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "keeps its file"})
		attach := func(rec string, i int) string {
			t.Helper()
			a, err := db.Attach(bg, rec, model.Attachment{Name: fmt.Sprintf("f%d.txt", i), Size: 3, SHA256: strings.Repeat(fmt.Sprint(i), 64), MediaType: "text/plain"})
			if err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		mine := []string{attach(note.ID, 1), attach(note.ID, 2)}
		theirs := attach(other.ID, 3)
		live := func() map[string]bool {
			t.Helper()
			fs, err := db.Files(bg, "")
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, f := range fs {
				out[f.ID] = true
			}
			return out
		}
		if err := db.Delete(bg, note.ID); err != nil {
			t.Fatal(err)
		}
		if got := live(); got[mine[0]] || got[mine[1]] || !got[theirs] {
			t.Fatalf("files after the note's delete: %v (its own %v, the other's %s)", got, mine, theirs)
		}
		u, err := db.Undo(bg)
		if err != nil {
			t.Fatal(err)
		}
		if u.Change.RecordID != note.ID || u.Action != UndoRestored || u.Also != 2 {
			t.Fatalf("undo = %+v", u)
		}
		if got := live(); !got[mine[0]] || !got[mine[1]] || !got[theirs] {
			t.Fatalf("files after the undo: %v", got)
		}
		if r, err := db.Get(bg, note.ID); err != nil || r.Deleted {
			t.Fatalf("the note after the undo: %+v, %v", r, err)
		}
		// A file detached alone is one change of its own.
		if err := db.Delete(bg, theirs); err != nil {
			t.Fatal(err)
		}
		u, err = db.Undo(bg)
		if err != nil || u.Change.RecordID != theirs || u.Also != 0 {
			t.Fatalf("undo of a detach = %+v, %v", u, err)
		}
	})
}
