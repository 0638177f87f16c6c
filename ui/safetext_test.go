package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// hostile is text a collaborator could store: a window title, a screen
// clear, a bidi override and a NUL.
const hostile = "Evil\x1b]0;pwned\x07 \x1b[2J\u202eflip\x00"

// rawScreen is the frame as the terminal gets it, styles and all.
func rawScreen(m *Model) string { return m.render() }

func mustBeInert(t *testing.T, where, raw string) {
	t.Helper()
	for _, bad := range []string{"\x1b]0;", "\x1b[2J", "\u202e", "\x00", "\x07"} {
		if strings.Contains(raw, bad) {
			t.Fatalf("%s: the screen carries %q raw", where, bad)
		}
	}
	plain := screenTextOf(raw)
	if !strings.Contains(plain, `Evil\x1b]0;pwned\x07`) {
		t.Fatalf("%s: the stored text is not shown with its escapes visible:\n%s", where, plain)
	}
}

func screenTextOf(raw string) string { return ansi.Strip(raw) }

// Every pane that shows stored text shows control characters as visible
// escapes: the list, the detail, the matter filter, the backlog with the
// server's refusal, the conflict review and the activity feed.
func TestStoredTextNeverDrivesTheTerminal(t *testing.T) {
	db := localdbtest.Open(t)
	ctx := context.Background()
	mt := mustCreate(t, db, "matter", model.Fields{"title": hostile})
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": hostile, "body": "line one\n" + hostile})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	})
	if _, err := db.Update(ctx, n.ID, model.Fields{"status": "open"}); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: protocol.CodeValidation, Message: hostile}
	})
	c := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Plain", "body": "base"})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, c.Fields)}
	})
	if _, err := db.Update(ctx, c.ID, model.Fields{"body": "mine"}); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		theirs := model.Fields{"matter_id": mt.ID, "title": "Plain", "body": hostile}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs), ConflictFields: []string{"body"}}
	})
	m := newTestModel(t, Options{DB: db})
	mustBeInert(t, "matters", rawScreen(m))
	press(t, m, "right", "right")
	mustBeInert(t, "notes", rawScreen(m))
	press(t, m, "enter")
	mustBeInert(t, "detail", rawScreen(m))
	press(t, m, "esc", "m")
	mustBeInert(t, "matter filter", rawScreen(m))
	press(t, m, "esc", "3")
	mustBeInert(t, "backlog", rawScreen(m))
	press(t, m, "4")
	mustBeInert(t, "activity", rawScreen(m))
	press(t, m, "2")
	mustBeInert(t, "conflict review", rawScreen(m))
}

// The forms and the newer panes show stored text inert too: the editor's
// inputs (one line and long text), the conflict review's merge editor and
// who made the other change, the matter's hub and the agenda.
func TestStoredTextInertInFormsHubAndAgenda(t *testing.T) {
	db := localdbtest.Open(t)
	ctx := context.Background()
	mt := mustCreate(t, db, "matter", model.Fields{"title": hostile})
	mustCreate(t, db, "hearing", model.Fields{"matter_id": mt.ID, "title": hostile, "starts_at": fixedNow.Add(24 * time.Hour).Format(time.RFC3339)})
	n := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": hostile, "body": "base"})
	pushAll := func(answer func(op localdb.OutboxOp) protocol.OpResult) {
		for {
			ops, err := db.NextBatch(ctx, time.Now().Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) == 0 {
				return
			}
			var res []protocol.OpResult
			for _, op := range ops {
				res = append(res, answer(op))
			}
			if err := db.ApplyPushResults(ctx, res); err != nil {
				t.Fatal(err)
			}
		}
	}
	pushAll(func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	})
	if _, err := db.Update(ctx, n.ID, model.Fields{"body": "mine"}); err != nil {
		t.Fatal(err)
	}
	pushAll(func(op localdb.OutboxOp) protocol.OpResult {
		theirs := model.Fields{"matter_id": mt.ID, "title": hostile, "body": "line one\n" + hostile}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
			ConflictFields: []string{"body"}, ChangedBy: hostile, ChangedAt: fixedNow}
	})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "enter")
	if m.hub == nil {
		t.Fatal("enter on the matter did not open its hub")
	}
	mustBeInert(t, "hub", rawScreen(m))
	press(t, m, "esc", "5")
	mustBeInert(t, "agenda", rawScreen(m))
	press(t, m, "1", "right", "right", "right", "right") // hearings
	press(t, m, "e")
	if m.editor == nil {
		t.Fatal("e did not open the hearing's form")
	}
	mustBeInert(t, "hearing form", rawScreen(m))
	press(t, m, "esc")
	press(t, m, "2")
	mustBeInert(t, "conflict review", rawScreen(m))
	press(t, m, "e")
	if !m.conflicts.long {
		t.Fatal("e did not open the merge editor")
	}
	mustBeInert(t, "merge editor", rawScreen(m))
}
