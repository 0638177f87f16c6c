package localdb

import (
	"database/sql"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// rawBase is a record's base_fields as the file holds it.
func rawBase(t *testing.T, db *DB, id string) sql.NullString {
	t.Helper()
	var base sql.NullString
	if err := db.w.QueryRowContext(bg, "SELECT base_fields FROM records WHERE id = ?", id).Scan(&base); err != nil {
		t.Fatal(err)
	}
	return base
}

// wantBase checks how a record's base is stored (baseSame or a copy of
// its own) and what it reads as, directly and through sqlRecordFields.
func wantBase(t *testing.T, db *DB, id string, same bool, base model.Fields) {
	t.Helper()
	raw := rawBase(t, db, id)
	if got := raw.Valid && raw.String == baseSame; got != same {
		t.Fatalf("record %s: base stored as the fields: %v, want %v (%q)", id, got, same, raw.String)
	}
	rec, err := db.getRow(bg, db.r, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.baseSame != same || !model.Equal(map[string]any(rec.base), map[string]any(base)) {
		t.Fatalf("record %s: base %v (same %v), want %v", id, rec.base, rec.baseSame, base)
	}
	var text string
	q := "SELECT " + db.sqlRecordFields("r", "base_fields") + " FROM records r WHERE r.id = ?"
	if err := db.r.QueryRowContext(bg, q, id).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if want, _ := encodeFields(base); text != want {
		t.Fatalf("record %s: base in SQL %s, want %s", id, text, want)
	}
}

// TestSyncedRecordKeepsOneCopy: a record whose fields are the server's copy
// stores that copy once (base_fields holds baseSame), in a plaintext and
// an encrypted database: pulled new, pulled into a record with an op
// queued, acknowledged by a push, and brought back to the server's copy by
// a pull. An edit gives the base a copy of its own, holding the values
// before the edit, and a merge still starts from it.
func TestSyncedRecordKeepsOneCopy(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := syncedMatter(t, db)
		wantBase(t, db, m, true, model.Fields{"title": "Smith v Jones"})

		// Pulled new, many to a page.
		v1 := model.Fields{"matter_id": m, "title": "Site visit", "body": "fence line"}
		id := model.NewID()
		pull(t, db, 2, serverRecord(id, "note", m, 1, v1))
		wantBase(t, db, id, true, v1)

		// An edit: the base keeps the values before it.
		mustUpdate(t, db, id, model.Fields{"title": "Site visit, second day"})
		wantBase(t, db, id, false, v1)
		if got := mustGet(t, db, id).Fields["title"]; got != "Site visit, second day" {
			t.Fatalf("title %v after the edit", got)
		}

		// Another device's change of another field merges on that base.
		v2 := model.Fields{"matter_id": m, "title": "Site visit", "body": "fence line moved"}
		pull(t, db, 3, serverRecord(id, "note", m, 2, v2))
		got := mustGet(t, db, id).Fields
		if got["title"] != "Site visit, second day" || got["body"] != "fence line moved" {
			t.Fatalf("merged fields %v", got)
		}
		wantBase(t, db, id, false, v2)

		// The push's answer makes the fields the server's copy again.
		sent, err := db.NextBatch(bg, time.Now(), 10)
		if err != nil || len(sent) != 1 {
			t.Fatalf("batch %v, %v", sent, err)
		}
		v3 := model.Fields{"matter_id": m, "title": "Site visit, second day", "body": "fence line moved"}
		if _, err := db.ApplyPushResultsAndAdvance(bg, nil, []protocol.OpResult{{OpID: sent[0].OpID, Result: model.ResultApplied,
			Record: &protocol.Record{ID: id, Collection: "note", MatterID: m, Version: 3, Seq: 4, Fields: v3}}}, 0, 0); err != nil {
			t.Fatal(err)
		}
		wantBase(t, db, id, true, v3)

		// A record whose op is answered through the general path (an
		// edit queued behind the sent one) ends with a copy of its own
		// while the edit waits, and baseSame once a pull brings the
		// server's copy level with it.
		other := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Call the clerk"})
		sent, err = db.NextBatch(bg, time.Now(), 10)
		if err != nil || len(sent) != 1 {
			t.Fatalf("batch %v, %v", sent, err)
		}
		mustUpdate(t, db, other.ID, model.Fields{"body": "about the hearing"})
		created := model.Fields{"matter_id": m, "title": "Call the clerk"}
		if _, err := db.ApplyPushResultsAndAdvance(bg, nil, []protocol.OpResult{{OpID: sent[0].OpID, Result: model.ResultApplied,
			Record: &protocol.Record{ID: other.ID, Collection: "note", MatterID: m, Version: 1, Seq: 5, Fields: created}}}, 0, 0); err != nil {
			t.Fatal(err)
		}
		wantBase(t, db, other.ID, false, created)
		ops := opsOf(t, db, other.ID)
		if len(ops) != 1 {
			t.Fatalf("ops %v", ops)
		}
		if err := db.DiscardOp(bg, ops[0].OpID); err != nil {
			t.Fatal(err)
		}
		wantBase(t, db, other.ID, true, created)

		// Pulled into a record that has an op queued: the server's copy
		// is the base, the fields are the op's.
		queued := model.NewID()
		if _, err := db.Create(bg, "note", queued, model.Fields{"matter_id": m, "title": "mine"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.ExecContext(bg, "DELETE FROM records WHERE id = ?", queued); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.ExecContext(bg, "DELETE FROM records_fts WHERE rowid NOT IN (SELECT rid FROM records)"); err != nil {
			t.Fatal(err)
		}
		theirs := model.Fields{"matter_id": m, "title": "theirs"}
		pull(t, db, 6, serverRecord(queued, "note", m, 1, theirs))
		wantBase(t, db, queued, false, theirs)
	})
}
