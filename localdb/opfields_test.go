package localdb

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"casefile/model"
)

// bothSealings runs f on a new database, plaintext and encrypted.
func bothSealings(t *testing.T, f func(t *testing.T, db *DB)) {
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(t *testing.T) {
			var opts []Option
			if sealed {
				opts = append(opts, WithSealer(mustKeys(t)))
			}
			db, err := Open(bg, filepath.Join(t.TempDir(), "casefile.db"), testSchema(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			f(t, db)
		})
	}
}

// A new record's create op holds no copy of its fields: it names its
// journal entry, whose after holds them. Written one at a time (Create)
// or many rows to a statement (Import, across a journal already holding
// entries), every op reads back the fields it was given, through every
// read of the queue, and the same as when the op holds its own copy.
func TestCreateOpsReadTheirJournalEntry(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := mustMatter(t, db, "Entries v Copies")
		col, err := db.collection("note")
		if err != nil {
			t.Fatal(err)
		}
		// 70 notes: chunks of 64, 4, 1 and 1; then one more by Create.
		items := make([]ImportItem, 70)
		want := map[string]model.Fields{}
		for i := range items {
			f := model.Fields{"matter_id": m, "title": fmt.Sprintf("Note %d", i), "tags": []any{"t" + fmt.Sprint(i%3)}}
			items[i] = ImportItem{ID: model.NewID(), Fields: f}
			norm, probs := col.Validate(f.Clone(), true)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			want[items[i].ID] = norm
		}
		if err := db.Import(bg, "note", items); err != nil {
			t.Fatal(err)
		}
		one := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Alone"})
		want[one.ID] = one.Fields

		ops := outbox(t, db)
		if len(ops) != len(want)+1 { // and the matter's
			t.Fatalf("%d ops, want %d", len(ops), len(want)+1)
		}
		var refer int
		if err := db.r.QueryRowContext(bg, `SELECT count(*) FROM outbox o JOIN journal j ON j.seq = o.fields_entry
			AND j.op_id = o.op_id AND j.record_id = o.record_id AND j.collection = o.collection
			WHERE o.fields IS NULL AND o.kind = ?`, model.OpCreate).Scan(&refer); err != nil || refer != len(ops) {
			t.Fatalf("%d of %d creates refer to their own journal entry: %v", refer, len(ops), err)
		}
		for _, o := range ops[1:] {
			if !sameFields(t, o.Fields, want[o.RecordID]) {
				t.Fatalf("op of %s: fields %v, want %v", o.RecordID, o.Fields, want[o.RecordID])
			}
		}
		entries, err := db.Journal(bg, JournalQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if w, ok := want[e.RecordID]; ok && !sameFields(t, e.After, w) {
				t.Fatalf("journal entry of %s: after %v, want %v", e.RecordID, e.After, w)
			}
		}
		batch := nextBatch(t, db, 1000)
		if len(batch) != len(ops) {
			t.Fatalf("a batch of %d ops, want %d", len(batch), len(ops))
		}
		for _, o := range batch[1:] {
			if !sameFields(t, o.Fields, want[o.RecordID]) {
				t.Fatalf("op of %s taken to send: fields %v, want %v", o.RecordID, o.Fields, want[o.RecordID])
			}
		}
		texts, err := db.queryOpTexts(bg, db.r, "ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}

		// The general form: every op saved with its own copy.
		tx, err := db.w.BeginTx(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		all, err := db.queryOps(bg, tx, "ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range all {
			if err := db.saveOp(bg, tx, o); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := db.r.QueryRowContext(bg, "SELECT count(*) FROM outbox WHERE fields_entry IS NOT NULL OR fields IS NULL").Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d ops still without their own copy: %v", left, err)
		}
		own, err := db.queryOpTexts(bg, db.r, "ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		for i := range texts {
			if !texts[i].entry.Valid {
				t.Fatalf("op %s was not read through its journal entry", texts[i].OpID)
			}
			// Where the text came from, which is what changed: an
			// import's create is known as one either way.
			texts[i].entry = sql.NullInt64{}
		}
		if !reflect.DeepEqual(texts, own) {
			t.Fatalf("ops read through their journal entries and from their own copies differ:\n%+v\n%+v", texts, own)
		}
	})
}

// Entries written many to a statement take the seqs after the largest
// the journal ever gave, and later entries follow them.
func TestImportedEntriesFollowTheJournal(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := mustMatter(t, db, "Seqs")
		n := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "first"})
		mustUpdate(t, db, n.ID, model.Fields{"title": "second"})
		items := make([]ImportItem, 5)
		for i := range items {
			items[i] = ImportItem{Fields: model.Fields{"matter_id": m, "title": fmt.Sprintf("imported %d", i)}}
		}
		if err := db.Import(bg, "note", items); err != nil {
			t.Fatal(err)
		}
		mustUpdate(t, db, n.ID, model.Fields{"title": "third"})
		entries, err := db.Journal(bg, JournalQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for i, e := range entries {
			kinds = append(kinds, string(e.Kind))
			if i > 0 && e.Seq != entries[i-1].Seq-1 {
				t.Fatalf("journal seqs %d then %d", entries[i-1].Seq, e.Seq)
			}
		}
		if got := strings.Join(kinds, " "); got != "update import import import import import update create create" {
			t.Fatalf("journal, newest first: %s", got)
		}
	})
}

// A file only a queued create op names — its record gone from the device,
// its upload dropped — is not collected, whether the op holds its fields
// through its journal entry or as its own copy; once the ops are gone, it is.
func TestQueuedCreateKeepsItsFile(t *testing.T) {
	bothSealings(t, func(t *testing.T, db *DB) {
		m := mustMatter(t, db, "Files")
		note := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "has files"})
		var hashes, ids []string
		for i := range 2 {
			h := strings.Repeat(fmt.Sprint(i+1), 64)
			rec, err := db.Attach(bg, note.ID, model.Attachment{Name: fmt.Sprintf("f%d.txt", i), Size: 3, SHA256: h, MediaType: "text/plain"})
			if err != nil {
				t.Fatal(err)
			}
			hashes, ids = append(hashes, h), append(ids, rec.ID)
		}
		// The second op gets its own copy: an edit folds into it.
		mustUpdate(t, db, ids[1], model.Fields{"name": "renamed.txt"})
		var own int
		if err := db.r.QueryRowContext(bg, "SELECT count(*) FROM outbox WHERE record_id = ? AND fields IS NOT NULL AND fields_entry IS NULL", ids[1]).Scan(&own); err != nil || own != 1 {
			t.Fatalf("the edited create holds no copy of its own: %d %v", own, err)
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.w.ExecContext(bg, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			exec("DELETE FROM transfers WHERE attachment_id = ?", id)
			exec("DELETE FROM records WHERE id = ?", id)
		}
		var removed []string
		remove := func(h string) error { removed = append(removed, h); return nil }
		if n, err := db.CollectFiles(bg, remove); err != nil || n != 0 || len(removed) != 0 {
			t.Fatalf("collected %d %v with their creates queued: %v", n, removed, err)
		}
		exec("DELETE FROM outbox WHERE record_id IN (?, ?)", ids[0], ids[1])
		if n, err := db.CollectFiles(bg, remove); err != nil || n != 2 || len(removed) != 2 {
			t.Fatalf("collected %d %v once nothing names them (want %v): %v", n, removed, hashes, err)
		}
	})
}

// sameFields compares fields as they are stored: their JSON.
func sameFields(t *testing.T, a, b model.Fields) bool {
	t.Helper()
	ja, err := encodeFields(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := encodeFields(b)
	if err != nil {
		t.Fatal(err)
	}
	return ja == jb
}
