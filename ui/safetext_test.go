package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
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
	db := openDB(t)
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
