package syncer_test

import (
	"context"
	"testing"

	"casefile/model"
	"casefile/server/servertest"
)

// TestRestoreKeepsAnotherUsersEdit: a note is at version 1 (status draft)
// on a laptop; another user sets status closed (v2) and deletes the note
// (v3). The laptop, offline, edits only the title and meets the
// edit-of-deleted conflict. The conflict shows the server's last fields
// as theirs, and "restore with my edits" brings the note back with the
// other user's status and the laptop's title — never the laptop's stale
// status. Both ways to learn of the delete are covered: the push's
// conflict answer, and a pull of the tombstone before the push.
func TestRestoreKeepsAnotherUsersEdit(t *testing.T) {
	for _, how := range []string{"conflict answer", "pulled tombstone"} {
		t.Run(how, func(t *testing.T) {
			w := newWorld(t)
			alice, bob, m := w.sharedMatter(t)
			note := alice.PushOne(t, servertest.Create("note", model.Fields{model.MatterField: m.ID,
				"title": "Interview", "status": "draft", "body": "notes"})).Record
			laptop := w.newDevice("laptop", bob)
			laptop.sync()

			closed := alice.PushOne(t, servertest.Update(note, model.Fields{"status": "closed"})).Record
			if res := alice.PushOne(t, servertest.Delete(closed)); res.Result != model.ResultApplied {
				t.Fatalf("delete: %s %s", res.Result, res.Message)
			}
			laptop.update(note.ID, model.Fields{"title": "Interview (bob)"})
			if how == "pulled tombstone" {
				// A pull alone first: the tombstone reaches the laptop
				// while the edit waits in its queue.
				if _, err := laptop.s.Pull(context.Background()); err != nil {
					t.Fatal(err)
				}
				if r := laptop.get(note.ID); !r.Deleted || r.Fields["status"] != "closed" {
					t.Errorf("after pulling the tombstone the laptop shows deleted=%v %v; want the server's last fields", r.Deleted, r.Fields)
				}
			}
			laptop.sync()

			c, err := laptop.db.Conflict(context.Background(), note.ID)
			if err != nil || c.Kind != model.ConflictEditDeleted {
				t.Fatalf("conflict = %+v, %v; want edit_deleted", c, err)
			}
			if c.Theirs["status"] != "closed" || c.Theirs["body"] != "notes" {
				t.Errorf("theirs = %v, want the server's last fields (status closed)", c.Theirs)
			}
			for _, fc := range c.Fields {
				if fc.Field == "status" && fc.Theirs != "closed" {
					t.Errorf("status row = base %v mine %v theirs %v; want theirs closed", fc.Base, fc.Mine, fc.Theirs)
				}
				if fc.Field == "status" && how == "conflict answer" && (fc.Base != "draft" || fc.Mine != "draft") {
					t.Errorf("status row = base %v mine %v; want draft as this device last had it", fc.Base, fc.Mine)
				}
			}
			if _, err := laptop.db.Resolve(context.Background(), note.ID, model.Resolution{All: model.TakeMine}); err != nil {
				t.Fatal(err)
			}
			laptop.sync()

			got := serverRecords(t, alice)[note.ID]
			if got.Deleted || got.Fields["status"] != "closed" || got.Fields["title"] != "Interview (bob)" || got.Fields["body"] != "notes" {
				t.Fatalf("restored on the server: deleted=%v %v; want status closed (alice's), title Interview (bob)", got.Deleted, got.Fields)
			}
			assertMirrors(t, laptop)
		})
	}
}
