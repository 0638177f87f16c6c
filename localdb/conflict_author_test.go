package localdb

import (
	"path/filepath"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// A conflict keeps who made the server's change and when, as the server
// named them, or from the record's last change when an older server
// does not; both survive closing and opening the database.
func TestConflictKeepsTheirAuthorAndTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	recAt := time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		by       string
		at       time.Time
		wantBy   string
		wantAt   time.Time
		recordBy string
	}{
		{"named by the server", "carol", at, "carol", at, "bob"},
		{"older server", "", time.Time{}, "bob", recAt, "bob"},
		{"nobody known", "", time.Time{}, "", time.Time{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "casefile.db")
			db := openAt(t, path)
			m := syncedMatter(t, db)
			id := syncedNote(t, db, m, 1, model.Fields{"title": "Base"})
			mustUpdate(t, db, id, model.Fields{"title": "Mine"})
			op := nextBatch(t, db, 10)[0]
			rec := &protocol.Record{ID: id, Collection: "note", MatterID: m, Version: 2,
				Fields: model.Fields{"matter_id": m, "title": "Theirs"}}
			if c.recordBy != "" {
				rec.UpdatedBy, rec.UpdatedAt = c.recordBy, recAt
			}
			answer(t, db, protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: rec,
				ConflictFields: []string{"title"}, ChangedBy: c.by, ChangedAt: c.at})
			db.Close()
			db = openAt(t, path)
			got, err := db.Conflict(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.TheirsBy != c.wantBy || !got.TheirsAt.Equal(c.wantAt) {
				t.Fatalf("their change by %q at %v, want %q at %v", got.TheirsBy, got.TheirsAt, c.wantBy, c.wantAt)
			}
		})
	}
}
