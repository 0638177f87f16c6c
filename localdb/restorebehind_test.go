package localdb

import (
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// A restore queued behind a delete on the server (the delete undone while
// it travelled) moves with the delete when the delete meets a conflict and
// the person sends it again, onto the version they reviewed; once the
// delete is applied, onto the version it got. The server then takes the
// create as the restore of that delete. Left on its old base, it reads as
// the create of a record the server already has (a backup's, answered
// "merged, stays deleted" for base 0, refused as id_conflict otherwise):
// the restore and every edit made on it after the undo were lost.
func TestRestoreBehindAResolvedDeleteMovesWithIt(t *testing.T) {
	db, m := openWithMatter(t)
	id := syncedNote(t, db, m, 1, model.Fields{"title": "Base", "body": "b1"})
	if err := db.Delete(bg, id); err != nil {
		t.Fatal(err)
	}
	del := nextBatch(t, db, 10)[0]
	if u, err := db.Undo(bg); err != nil || u.Action != UndoRestored {
		t.Fatalf("undo of the delete: %+v, %v", u, err)
	}
	mustUpdate(t, db, id, model.Fields{"title": "Edited after the undo"})
	ops := opsOf(t, db, id)
	if len(ops) != 2 || ops[1].Kind != model.OpCreate || ops[1].BaseVersion != 1 {
		t.Fatalf("after the undo: %+v", ops)
	}
	restore := ops[1].OpID

	// Another device changed the title (v2): the delete conflicts, and the
	// person sends it again.
	conflictOn(t, db, del, &protocol.Record{ID: id, Collection: "note", Version: 2,
		Fields: model.Fields{"matter_id": m, "title": "Theirs", "body": "b1"}}, "title")
	if _, err := db.Resolve(bg, id, model.Resolution{All: model.TakeMine}); err != nil {
		t.Fatal(err)
	}
	ops = opsOf(t, db, id)
	if len(ops) != 2 || ops[0].Kind != model.OpDelete || ops[0].BaseVersion != 2 || ops[1].OpID != restore || ops[1].BaseVersion != 2 {
		t.Fatalf("after the resolution: %+v", ops)
	}

	sent := nextBatch(t, db, 10)
	if len(sent) != 1 || sent[0].Kind != model.OpDelete {
		t.Fatalf("batch %+v; want the delete alone", sent)
	}
	answer(t, db, protocol.OpResult{OpID: sent[0].OpID, Result: model.ResultApplied,
		Record: &protocol.Record{ID: id, Collection: "note", Version: 3, Deleted: true,
			Fields: model.Fields{"matter_id": m, "title": "Theirs", "body": "b1"}}})
	ops = opsOf(t, db, id)
	if len(ops) != 1 || ops[0].OpID != restore || ops[0].BaseVersion != 3 || ops[0].Fields["title"] != "Edited after the undo" {
		t.Fatalf("after the delete's answer: %+v; want the restore on version 3", ops)
	}
}
