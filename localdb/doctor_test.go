package localdb

import (
	"fmt"
	"strings"
	"testing"

	"casefile/internal/racetest"
	"casefile/model"
)

// Doctor's integrity check once ran on a pooled reader whose cached copy of
// the full-text index's structure went stale as the writer changed it, and
// then reported "fts5: corruption found" for a sound database.
func TestDoctorFindsNoCorruptionAfterEdits(t *testing.T) {
	racetest.Plain(t)
	db := openTest(t)
	m := mustMatter(t, db, "Smith")
	notes := make([]string, 7)
	for i := range notes {
		notes[i] = mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": fmt.Sprintf("note %d", i)}).ID
	}
	for i := range 30 {
		mustUpdate(t, db, notes[i%len(notes)], model.Fields{"body": fmt.Sprintf("body %d", i)})
		rep, err := db.Doctor(bg, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("after %d edits doctor reports %q for a sound database", i+1, rep.Problems)
		}
	}
}

// Damage to the full-text index is still found.
func TestDoctorFindsDamagedIndex(t *testing.T) {
	db := openTest(t)
	m := mustMatter(t, db, "Smith")
	for i := range 20 {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": fmt.Sprintf("note %d", i), "body": "words to index"})
	}
	caughtUp(t, db)
	if _, err := db.w.ExecContext(bg, "DELETE FROM records_fts_data WHERE id > 10"); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Doctor(bg, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 || !strings.HasPrefix(rep.Problems[0], "integrity: ") {
		t.Fatalf("doctor finds nothing wrong with a damaged index: %+v", rep)
	}
}
