package localdb

import (
	"path/filepath"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// TestResendCarriesFirstCursor: the first send of an op goes out plain and
// notes the pull cursor of that moment; every later send of the same op is
// marked resent with that first cursor, however far the cursor has moved,
// across a reopen too. An op retried after a refusal is a new op: its
// first send is plain again.
func TestResendCarriesFirstCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	m := syncedMatter(t, db)
	n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "A1"})
	if err := setMeta(bg, db.w, metaCursor, "42"); err != nil {
		t.Fatal(err)
	}
	first := nextBatch(t, db, 10)
	if len(first) != 1 || first[0].Resent || first[0].SentSince != 42 {
		t.Fatalf("first send = %+v, want plain, noting cursor 42", first)
	}
	if err := db.MarkRetry(bg, []string{first[0].OpID}, "lost", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := setMeta(bg, db.w, metaCursor, "99"); err != nil {
		t.Fatal(err)
	}
	again := nextBatch(t, db, 10)
	if len(again) != 1 || again[0].OpID != first[0].OpID || !again[0].Resent || again[0].SentSince != 42 {
		t.Fatalf("second send = %+v, want the same op resent since cursor 42", again)
	}
	// A crash mid-send: the op is resent on the next start, still since 42.
	db.Close()
	if db, err = Open(bg, path, testSchema(t)); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after := nextBatch(t, db, 10)
	if len(after) != 1 || !after[0].Resent || after[0].SentSince != 42 {
		t.Fatalf("send after a reopen = %+v, want resent since cursor 42", after)
	}
	// Refused for good, then retried by the person: a new op, sent plain.
	answer(t, db, protocol.OpResult{OpID: after[0].OpID, Result: model.ResultRejected, Code: protocol.CodeValidation, Message: "Refused."})
	if err := db.RetryOp(bg, after[0].OpID); err != nil {
		t.Fatal(err)
	}
	retried := nextBatch(t, db, 10)
	if len(retried) != 1 || retried[0].OpID == after[0].OpID || retried[0].Resent || retried[0].SentSince != 99 {
		t.Fatalf("retried op = %+v, want a new op id sent plain from cursor 99", retried)
	}
}

// TestSentSinceBackfill: ops a database of schema 3 had already sent are
// resent with cursor 0 after the upgrade — the safe side — and ops never
// sent stay plain.
func TestSentSinceBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	schema := testSchema(t)
	db, err := open(bg, path, schema, options{migrations: migs[:3]})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		id       string
		attempts int
	}{{"sent-once", 1}, {"never-sent", 0}} {
		if _, err := db.w.ExecContext(bg, `INSERT INTO outbox (op_id, record_id, collection, kind, fields, state, attempts, created_at, updated_at)
			VALUES (?, ?, 'note', 'update', '{"title":"x"}', 'retrying', ?, 1, 1)`, o.id, "r-"+o.id, o.attempts); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if db, err = Open(bg, path, schema); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, want := range []struct {
		id    string
		since any
	}{{"sent-once", int64(0)}, {"never-sent", nil}} {
		var since any
		if err := db.r.QueryRowContext(bg, "SELECT sent_since FROM outbox WHERE op_id = ?", want.id).Scan(&since); err != nil {
			t.Fatal(err)
		}
		if since != want.since {
			t.Errorf("%s: sent_since %v after the upgrade, want %v", want.id, since, want.since)
		}
	}
	// Its next send is its second: resent, since cursor 0.
	o, err := getOp(bg, db.r, "sent-once")
	if err != nil {
		t.Fatal(err)
	}
	if o.attempts+1 < 2 || o.SentSince != 0 {
		t.Errorf("the op sent before the upgrade: attempts %d, since %d", o.attempts, o.SentSince)
	}
}
