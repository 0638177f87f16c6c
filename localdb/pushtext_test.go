package localdb

import (
	"fmt"
	"testing"
	"time"

	"casefile/model"
)

// TestNextPushBatchCarriesFieldsAsEncoded: the ops NextPushBatch takes
// are the ops as the outbox then holds them, their fields as encoding the
// decoded fields writes them — stored text that is not in that form is
// decoded and encoded — and nil for an op without fields.
func TestNextPushBatchCarriesFieldsAsEncoded(t *testing.T) {
	db, m := openWithMatter(t)
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "<&> \u2028 é", "tags": []any{"b", "a"}, "body": "a\tb\nc"})
	spaced := syncedNote(t, db, m, 1, model.Fields{"title": "spaced"})
	mustUpdate(t, db, spaced, model.Fields{"title": "spaced mine"})
	setOpFieldsText(t, db, spaced, `{"title": "spaced mine", "status" : null}`)
	emptied := syncedNote(t, db, m, 1, model.Fields{"title": "emptied"})
	mustUpdate(t, db, emptied, model.Fields{"title": "emptied mine"})
	setOpFieldsText(t, db, emptied, `{}`)
	deleted := syncedNote(t, db, m, 1, model.Fields{"title": "deleted"})
	if err := db.Delete(bg, deleted); err != nil {
		t.Fatal(err)
	}
	sent, _, err := db.NextPushBatch(bg, time.Now(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	queued := outbox(t, db)
	if len(sent) != 4 || len(queued) != 4 {
		t.Fatalf("sent %d ops of %d", len(sent), len(queued))
	}
	for i, o := range sent {
		q := queued[i]
		want, err := encodeNullable(q.Fields)
		if err != nil {
			t.Fatal(err)
		}
		got := any(nil)
		if o.FieldsJSON != nil {
			got = string(o.FieldsJSON)
		}
		if got != want || o.Fields != nil {
			t.Errorf("op %d: fields %v %v, want %v", i, got, o.Fields, want)
		}
		if o.claimed.state != OpPending {
			t.Errorf("op %d: handed out from %q, want pending", i, o.claimed.state)
		}
		o.FieldsJSON, o.claimed, q.Fields = nil, claim{}, nil
		if fmt.Sprintf("%+v", o) != fmt.Sprintf("%+v", q) {
			t.Errorf("op %d sent as\n%+v\nqueued as\n%+v", i, o, q)
		}
	}
	if string(sent[1].FieldsJSON) != `{"status":null,"title":"spaced mine"}` || sent[3].FieldsJSON != nil {
		t.Fatalf("fields sent %s, %s", sent[1].FieldsJSON, sent[3].FieldsJSON)
	}
}

// setOpFieldsText stores text as the fields of the record's only op.
func setOpFieldsText(t *testing.T, db *DB, recordID, text string) {
	t.Helper()
	ops := opsOf(t, db, recordID)
	if len(ops) != 1 {
		t.Fatalf("ops of %s: %+v", recordID, ops)
	}
	o := opRow{Op: ops[0].Op}
	if _, err := db.w.ExecContext(bg, "UPDATE outbox SET fields = ? WHERE seq = ?",
		db.sealText(text, opPlace("fields", &o)), ops[0].Seq); err != nil {
		t.Fatal(err)
	}
}
