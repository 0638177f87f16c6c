package syncer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"casefile/localdb"
	"casefile/model"
	"casefile/server"
	"casefile/server/servertest"
)

// TestGrantThenCompactionKeepsYoungCursors: a note was deleted long ago; a
// device pulled after that, with the retention still ahead of its cursor.
// Then a matter is granted to another user, which gives the tombstone a
// new sequence, and the server compacts what is older than the retention
// — the tombstone among it. The device's cursor is younger than the
// retention, so its next pull goes on from its cursor: no cursor_too_old,
// no full resync, and its queued edit of another note is not marked gone.
func TestGrantThenCompactionKeepsYoungCursors(t *testing.T) {
	ctx := context.Background()
	const retention = time.Hour
	w := newWorld(t, func(o *server.Options) { o.Retention = retention })
	alice := w.srv.NewUser(t, "alice", server.RoleMember)
	w.srv.NewUser(t, "carol", server.RoleMember)
	m := alice.CreateMatter(t, "Granted later")
	gone := alice.CreateNote(t, m.ID, "deleted long ago")
	kept := alice.CreateNote(t, m.ID, "kept")
	if res := alice.PushOne(t, servertest.Delete(gone)); res.Result != model.ResultApplied {
		t.Fatalf("delete: %s %s", res.Result, res.Message)
	}
	cut := time.Now() // everything before is older than the retention at the compaction
	d := w.newDevice("d", alice)
	d.sync()
	d.update(kept.ID, model.Fields{"body": "edited while the grant went by"})
	before := len(journal(t, d))
	if err := w.srv.Grant(ctx, "carol", m.ID); err != nil {
		t.Fatal(err)
	}
	st, err := w.srv.Compact(ctx, cut.Add(retention))
	if err != nil || st.Tombstones != 1 {
		t.Fatalf("compaction = %+v, %v; want the old tombstone compacted", st, err)
	}
	d.sync()
	for _, e := range journal(t, d)[:len(journal(t, d))-before] { // newest first
		if e.Kind == "reset" {
			t.Fatalf("the device resynced in full after a grant and a compaction, with a cursor younger than the retention: %s", e.Summary)
		}
	}
	if left := d.outbox(); len(left) != 0 {
		t.Fatalf("the queued edit is left as %s %s", left[0].State, left[0].ErrorCode)
	}
	if got := serverRecords(t, alice)[kept.ID]; !strings.Contains(got.Fields["body"].(string), "edited") {
		t.Errorf("the edit did not reach the server: %v", got.Fields)
	}
}

func journal(t testing.TB, d *device) []localdb.JournalEntry {
	t.Helper()
	j, err := d.db.Journal(context.Background(), localdb.JournalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}
