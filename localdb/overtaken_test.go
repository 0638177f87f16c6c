package localdb

import (
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// A push's conflict whose answer comes after a pull brought a newer copy
// of the record (the answer overtaken on the way) shows the newer copy as
// the server's side, as a pull after the conflict would make it: the
// review must show, and "theirs" apply, what the device last heard the
// server holds, and the resolution is sent on that version.
func TestConflictOvertakenByAPullShowsTheNewerCopy(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base", "body": "b1"})
	mustUpdate(t, db, id, model.Fields{"title": "Mine"})
	op := nextBatch(t, db, 10)[0]
	pull(t, db, 3, protocol.Record{ID: id, Collection: "note", Version: 3,
		Fields: model.Fields{"matter_id": m, "title": "Theirs 3", "body": "b3"}})
	conflictOn(t, db, op, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Theirs 2", "body": "b1"}}, "title")

	c, err := db.Conflict(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.TheirsVersion != 3 || c.Theirs["title"] != "Theirs 3" || len(c.Fields) != 1 || c.Fields[0].Theirs != "Theirs 3" || c.Fields[0].Mine != "Mine" {
		t.Fatalf("conflict %+v; want the server's side at version 3", c)
	}
	if r := mustGet(t, db, id); r.Version != 3 {
		t.Fatalf("record at version %d, want 3", r.Version)
	}
	if _, err := db.Resolve(bg, id, model.Resolution{All: model.TakeTheirs}); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, db, id); r.Fields["title"] != "Theirs 3" || r.Fields["body"] != "b3" {
		t.Fatalf("after taking theirs: %+v", r.Fields)
	}
	if ops := opsOf(t, db, id); len(ops) != 0 {
		t.Fatalf("ops after taking theirs: %+v", ops)
	}
}
