package localdb

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"casefile/model"
	"casefile/protocol"
)

// TestResendCarriesFirstCursor: an op goes out plain until an attempt
// that may have reached the server ends (an answer lost, a timeout, a
// crash mid-send); every later send is marked resent with the cursor from
// before that attempt, however far the cursor has moved, across a reopen
// too. Attempts that surely never reached the server do not count. An op
// retried after a refusal is a new op: its first send is plain again.
func TestResendCarriesFirstCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db, err := Open(bg, path, testSchema(t), testSealing(t)...)
	if err != nil {
		t.Fatal(err)
	}
	m := syncedMatter(t, db)
	n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "A1"})
	setCursor := func(c string) {
		t.Helper()
		if err := setMeta(bg, db.w, metaCursor, c); err != nil {
			t.Fatal(err)
		}
	}
	send := func() OutboxOp {
		t.Helper()
		b := nextBatch(t, db, 10)
		if len(b) != 1 {
			t.Fatalf("batch %+v", b)
		}
		return b[0]
	}
	setCursor("30")
	op := send()
	if op.Resent {
		t.Fatalf("first send = %+v, want plain", op.Op)
	}
	// No connection could be made: as if never sent.
	if err := db.MarkUndelivered(bg, []string{op.OpID}, "unreachable", time.Now()); err != nil {
		t.Fatal(err)
	}
	setCursor("42")
	if op = send(); op.Resent {
		t.Fatalf("send after an undelivered attempt = %+v, want plain", op.Op)
	}
	// This attempt's answer is lost: it may have been applied.
	if err := db.MarkRetry(bg, []string{op.OpID}, "lost", time.Now()); err != nil {
		t.Fatal(err)
	}
	setCursor("99")
	again := send()
	if again.OpID != op.OpID || !again.Resent || again.SentSince != 42 {
		t.Fatalf("send after a lost answer = %+v, want the same op resent since cursor 42", again.Op)
	}
	// A crash mid-send: resent on the next start, still since 42.
	db.Close()
	if db, err = Open(bg, path, testSchema(t), testSealing(t)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // whichever handle is open last
	after := send()
	if !after.Resent || after.SentSince != 42 {
		t.Fatalf("send after a reopen = %+v, want resent since cursor 42", after.Op)
	}
	// Refused for good, then retried by the person: a new op, sent plain.
	answer(t, db, protocol.OpResult{OpID: after.OpID, Result: model.ResultRejected, Code: protocol.CodeValidation, Message: "Refused."})
	if err := db.RetryOp(bg, after.OpID); err != nil {
		t.Fatal(err)
	}
	retried := send()
	if retried.OpID == after.OpID || retried.Resent {
		t.Fatalf("retried op = %+v, want a new op id sent plain", retried.Op)
	}
	// A crash during the first attempt counts as sent.
	db.Close()
	if db, err = Open(bg, path, testSchema(t), testSealing(t)...); err != nil {
		t.Fatal(err)
	}
	if r := send(); !r.Resent || r.SentSince != 99 {
		t.Fatalf("send after a crash during the first attempt = %+v, want resent since cursor 99", r.Op)
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
	before, upgrade := upgradeFrom(t, migs, 4)
	db, err := open(bg, path, schema, options{migrations: before})
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
	if db, err = open(bg, path, schema, options{migrations: upgrade}); err != nil {
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
	o, err := db.getOp(bg, db.r, "sent-once")
	if err != nil {
		t.Fatal(err)
	}
	if o.attempts+1 < 2 || o.SentSince != 0 {
		t.Errorf("the op sent before the upgrade: attempts %d, since %d", o.attempts, o.SentSince)
	}
}

// TestNoFoldingIntoUnknownOutcome: an op the server could not tell the
// outcome of may have taken effect. Later changes of its record queue
// behind it instead of folding into it; in particular deleting the record
// of such a create queues a delete rather than cancelling a create the
// server may have.
func TestNoFoldingIntoUnknownOutcome(t *testing.T) {
	db, m := openWithMatter(t)
	unknown := func(id string) OutboxOp {
		t.Helper()
		var op OutboxOp
		for _, o := range nextBatch(t, db, 10) {
			if o.RecordID == id {
				op = o
			}
		}
		answer(t, db, protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: protocol.CodeOutcomeUnknown, Message: "Unknown."})
		return op
	}
	created := mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "maybe on the server"})
	c := unknown(created.ID)
	if err := db.Delete(bg, created.ID); err != nil {
		t.Fatal(err)
	}
	ops := outbox(t, db)
	if len(ops) != 2 || ops[0].OpID != c.OpID || ops[0].State != OpFailed || ops[1].Kind != model.OpDelete {
		t.Fatalf("after deleting the record of a create of unknown outcome the queue is %+v; want the create, failed, and a delete behind it", ops)
	}
	n := syncedNote(t, db, m, 1, model.Fields{"title": "B"})
	mustUpdate(t, db, n, model.Fields{"title": "B1"})
	u := unknown(n)
	mustUpdate(t, db, n, model.Fields{"body": "more"})
	var mine []OutboxOp
	for _, o := range outbox(t, db) {
		if o.RecordID == n {
			mine = append(mine, o)
		}
	}
	if len(mine) != 2 || mine[0].OpID != u.OpID || mine[1].Fields["body"] != "more" || mine[1].Fields["title"] != nil {
		t.Fatalf("an edit after an update of unknown outcome: queue %+v; want the update kept and the edit behind it", mine)
	}
}

// TestUnknownOutcomeOutlivesADrop: when the record of an op answered
// outcome_unknown leaves the device (its matter lost, or a resync no
// longer showing it), the op keeps its code — it may have taken effect,
// and a person who sends it again once the record is back must know —
// and Doctor does not call it an orphan.
func TestUnknownOutcomeOutlivesADrop(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 1, model.Fields{"title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "A1"})
	b := nextBatch(t, db, 10)
	answer(t, db, protocol.OpResult{OpID: b[0].OpID, Result: model.ResultRejected, Code: protocol.CodeOutcomeUnknown, Message: "Unknown."})
	pulled := protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 50, Head: 50}
	if err := db.ApplyPull(bg, pulled); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(bg, n); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the note of the lost matter is still here: %v", err)
	}
	ops := outbox(t, db)
	if len(ops) != 1 || ops[0].ErrorCode != protocol.CodeOutcomeUnknown {
		t.Fatalf("after the drop the queue is %+v; want the op, still outcome_unknown", ops)
	}
	rep, err := db.Doctor(bg, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("doctor: %v", rep.Problems)
	}
}

// TestHeldBackOpKeepsItsID: an op whose answer was lost, held back when
// its matter was lost, is sent again under its own id once the record is
// back — the server may have applied it, and only its ledger can say —
// and a later edit queues behind it rather than folding into it.
func TestHeldBackOpKeepsItsID(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 1, model.Fields{"matter_id": m, "title": "A"})
	mustUpdate(t, db, n, model.Fields{"title": "A1"})
	sent := nextBatch(t, db, 10)[0]
	if err := db.MarkRetry(bg, []string{sent.OpID}, "answer lost", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.ApplyPull(bg, protocol.PullResponse{DroppedMatters: []string{m}, Cursor: 60, Head: 60}); err != nil {
		t.Fatal(err)
	}
	if ops := outbox(t, db); len(ops) != 1 || ops[0].ErrorCode != protocol.CodeAccessRevoked {
		t.Fatalf("after losing the matter: %+v", ops)
	}
	// Access comes back: the pull shows the matter and the note again.
	back := protocol.PullResponse{Cursor: 70, Head: 70, Records: []protocol.Record{
		serverRecord(m, "matter", m, 1, model.Fields{"title": "M"}),
		serverRecord(n, "note", m, 1, model.Fields{"matter_id": m, "title": "A"}),
	}}
	if err := db.ApplyPull(bg, back); err != nil {
		t.Fatal(err)
	}
	if err := db.RetryOp(bg, sent.OpID); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, n, model.Fields{"body": "later"})
	ops := outbox(t, db)
	if len(ops) != 2 || ops[0].OpID != sent.OpID || ops[0].State != OpRetrying || ops[1].Fields["body"] != "later" {
		t.Fatalf("after the retry and an edit the queue is %+v; want the same op, retrying, and the edit behind it", ops)
	}
	again := nextBatch(t, db, 10)
	if len(again) != 1 || again[0].OpID != sent.OpID || !again[0].Resent {
		t.Fatalf("the held-back op went out as %+v; want its own id, resent", again)
	}
}

// TestResendCarriesHighestHeadKnown: a device that never pulled (cursor
// 0) but was told a head — by a push answer, a health probe, a pull page
// of another resync — sends that head as the op's sent_since, so a lost
// first request is not taken for one sent from cursor 0. The head only
// grows: a lower one told later changes nothing.
func TestResendCarriesHighestHeadKnown(t *testing.T) {
	db := openTest(t)
	mustMatter(t, db, "New device")
	for _, h := range []int64{40, 57, 12} {
		if err := db.NoteHead(bg, h); err != nil {
			t.Fatal(err)
		}
	}
	b := nextBatch(t, db, 10)
	if err := db.MarkRetry(bg, []string{b[0].OpID}, "connection reset", time.Now()); err != nil {
		t.Fatal(err)
	}
	b = nextBatch(t, db, 10)
	if len(b) != 1 || !b[0].Resent || b[0].SentSince != 57 {
		t.Fatalf("resend = %+v; want resent from head 57", b)
	}
	if v, _ := db.Meta(bg, MetaServerHead); v != "57" {
		t.Errorf("server head %q, want 57", v)
	}
	// A pull page's head counts too.
	if err := db.ApplyPull(bg, protocol.PullResponse{Records: []protocol.Record{}, Cursor: 60, Head: 61}); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Meta(bg, MetaServerHead); v != "61" {
		t.Errorf("server head after a pull %q, want 61", v)
	}
}

// TestRetryWaitsNoLongerThanItsBackoffWhenTheClockGoesBack: an op is
// scheduled to retry 30 seconds after a failure; then the wall clock
// jumps back a day (a bad battery clock corrected). The op is due 30
// seconds after the jump, not once the clock has caught up a day later.
func TestRetryWaitsNoLongerThanItsBackoffWhenTheClockGoesBack(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := open(bg, filepath.Join(t.TempDir(), "casefile.db"), testSchema(t), options{migrations: mustMigrations(t), now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mustMatter(t, db, "Clock")
	b, err := db.NextBatch(bg, clock, 10)
	if err != nil || len(b) != 1 {
		t.Fatalf("batch %+v, %v", b, err)
	}
	if err := db.MarkRetry(bg, []string{b[0].OpID}, "connection reset", clock.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(-24 * time.Hour)
	if b, err := db.NextBatch(bg, clock, 10); err != nil || len(b) != 0 {
		t.Fatalf("right after the jump: %+v, %v; want nothing due yet", b, err)
	}
	clock = clock.Add(31 * time.Second)
	if b, err := db.NextBatch(bg, clock, 10); err != nil || len(b) != 1 {
		t.Fatalf("31 seconds after the jump: %d op(s), %v; want the op due after its 30-second backoff", len(b), err)
	}
}

func mustMigrations(t testing.TB) []migration {
	t.Helper()
	m, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
