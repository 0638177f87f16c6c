package localdb

import (
	"testing"
	"time"

	"casefile/model"
)

// withCommitWatch has fn hear, before each commit, whether it waits for
// the disk.
func withCommitWatch(fn func(durable bool)) Option {
	return func(o *options) { o.commitWatch = fn }
}

// What a device tells the server, and what it tells its user it saved,
// rests on commits a power cut cannot take back: a user's write (the
// record, its op and its journal entry), a batch's claim (a claim lost
// after its ops reached the server would send them again as new, which a
// server that had compacted their answers would apply twice), a push's
// answers and a pull page. Only an import's batches commit unsynced, and
// the watch must see that, or it could not see a claim go unsynced
// either. A process killed keeps every commit (the crash tests); this is
// the machine stopping.
func TestSendsRestOnDurableCommits(t *testing.T) {
	var seen []bool
	db, err := Open(bg, t.TempDir()+"/casefile.db", testSchema(t),
		append(testSealing(t), withoutIndexer(), withCommitWatch(func(d bool) { seen = append(seen, d) }))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	commits := func(what string, durable bool, fn func()) {
		t.Helper()
		seen = nil
		fn()
		if len(seen) == 0 {
			t.Fatalf("%s: no commit seen", what)
		}
		for i, d := range seen {
			if d != durable {
				t.Errorf("%s: commit %d of %d durable %v, want %v", what, i+1, len(seen), d, durable)
			}
		}
	}
	var m, synced string
	commits("a pull page", true, func() { m = syncedMatter(t, db); synced = syncedNote(t, db, m, 2, nil) })
	commits("an import's batch", false, func() {
		p, err := db.PrepareImport("note", []ImportItem{{Fields: map[string]any{"matter_id": m, "title": "imported"}}})
		if err != nil {
			t.Fatal(err)
		}
		if counts, err := db.WriteImportUnsynced(bg, p, ExistingStop); err != nil || counts.Written != 1 {
			t.Fatalf("import: %+v, %v", counts, err)
		}
	})
	commits("a user's writes", true, func() {
		mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "typed"})
		mustUpdate(t, db, synced, model.Fields{"title": "edited"})
		if err := db.Delete(bg, mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "gone"}).ID); err != nil {
			t.Fatal(err)
		}
	})
	var ops []OutboxOp
	commits("a batch's claim", true, func() {
		if ops, _, err = db.NextPushBatch(bg, time.Now(), 10, 0); err != nil {
			t.Fatal(err)
		}
	})
	if len(ops) != 3 { // the import, the new note, the edit (the deleted create never goes)
		t.Fatalf("claimed %d ops, want 3: %+v", len(ops), ops)
	}
	results := answerAll(t, db, ops)
	for i, o := range ops {
		if o.RecordID == synced {
			results[i].Record.Version = 3
		}
	}
	commits("a push's answers", true, func() {
		if err := db.ApplyPushResults(bg, results); err != nil {
			t.Fatal(err)
		}
	})
	if left := outbox(t, db); len(left) != 0 {
		t.Fatalf("ops left after their answers: %+v", left)
	}
	commits("a pull page after a push", true, func() {
		pull(t, db, 4, serverRecord(model.NewID(), "note", m, 4, model.Fields{"matter_id": m, "title": "theirs"}))
	})
}
