package ui

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// carolAt is when carol's change on the server was made: an hour before
// the tests' clock.
var carolAt = fixedNow.Add(-time.Hour)

// seedTagsConflict makes a note whose tags and body both sides changed:
// here a tag added (urgent), one removed (draft) and a line added to the
// body; on the server, by carol, a tag added (witness) and the body
// reworded.
func seedTagsConflict(t *testing.T, db *localdb.DB) model.Record {
	t.Helper()
	ctx := context.Background()
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Lindqvist v. Northgate"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Site visit", "status": "open",
		"body": "Damp in the hall.", "tags": []string{"site", "draft"}})
	applied := func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	}
	pushOne(t, db, applied)
	pushOne(t, db, applied)
	if _, err := db.Update(ctx, note.ID, model.Fields{"tags": []string{"site", "urgent"}, "body": "Damp in the hall.\nMould behind the wardrobe."}); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		theirs := model.Fields{"matter_id": mt.ID, "title": "Site visit", "status": "open",
			"body": "Damp in the hall and the kitchen.", "tags": []string{"site", "draft", "witness"}}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
			ConflictFields: []string{"body", "tags"}, ChangedBy: "carol", ChangedAt: carolAt}
	})
	return note
}

// The review names who made the other change and when; a tags field is
// offered both sides merged as sets (additions of both, removals of
// both), and b takes that, shown as the result before it is applied.
func TestConflictTagsMergeAsSetsAndSaysWho(t *testing.T) {
	db := localdbtest.Open(t)
	note := seedTagsConflict(t, db)
	m := newTestModel(t, Options{DB: db, Zone: time.UTC})
	m.step(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "2")
	frame := screenText(m)
	mustContain(t, frame, "carol changed the same fields (Fri 14 Mar 14:30).", "? choose")
	press(t, m, "down") // the tags
	frame = screenText(m)
	mustContain(t, frame, "merged  site, urgent, witness  ← b takes it", "b merge tags")
	checkFrame(t, frame, 80, 24)
	golden.RequireEqual(t, trimRight(frame))

	press(t, m, "b")
	ch := m.conflicts.choices[note.ID]["tags"]
	if got, _ := ch.Value.([]string); ch.Take != model.TakeValue || !slices.Equal(got, []string{"site", "urgent", "witness"}) {
		t.Fatalf("b chose %+v", ch)
	}
	mustContain(t, screenText(m), "result  site, urgent, witness")
	press(t, m, "up", "t", "a")
	rec, err := db.Get(context.Background(), note.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := rec.Fields["tags"].([]string); !slices.Equal(got, []string{"site", "urgent", "witness"}) || rec.Fields["body"] != "Damp in the hall and the kitchen." {
		t.Fatalf("after applying: tags %v, body %q", rec.Fields["tags"], rec.Fields["body"])
	}
	// b does nothing on a field that is not tags.
	_, _, m2 := openConflicts(t)
	press(t, m2, "b")
	if len(m2.conflicts.choices) != 0 {
		t.Fatalf("b chose on a long text: %v", m2.conflicts.choices)
	}
}

// A long text is merged in a multi-line editor, or in $EDITOR with
// ctrl+e; the merged text is shown as the result before a applies it.
func TestConflictLongTextMergedInEditor(t *testing.T) {
	db := localdbtest.Open(t)
	note := seedTagsConflict(t, db)
	editor, seen := fakeEditor(t, `printf 'Damp in the hall and the kitchen.\nMould behind the wardrobe.\n' > "$1"`)
	m := newTestModel(t, Options{DB: db, Zone: time.UTC, Getenv: envOf("EDITOR", editor)})
	m.sh.Exec = runNow
	m.step(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "2", "e")
	frame := screenText(m)
	checkFrame(t, frame, 80, 24)
	mustContain(t, frame, "Merging the body of note “Site visit” · carol changed", "mine    Damp in the hall.", "theirs  Damp in the hall and the kitchen.",
		"Merged body (what applying writes)", "ctrl+s keeps this text · ctrl+e in your editor · esc cancels", "ctrl+c quit")
	golden.RequireEqual(t, trimRight(frame))

	press(t, m, "ctrl+e")
	if b, _ := os.ReadFile(seen); string(b) != "Damp in the hall.\nMould behind the wardrobe." {
		t.Fatalf("the editor was given %q", b)
	}
	merged := "Damp in the hall and the kitchen.\nMould behind the wardrobe."
	if m.conflicts.area.Value() != merged || !m.conflicts.editing {
		t.Fatalf("after the editor the merge holds %q", m.conflicts.area.Value())
	}
	press(t, m, "ctrl+s")
	if ch := m.conflicts.choices[note.ID]["body"]; ch.Take != model.TakeValue || ch.Value != merged {
		t.Fatalf("ctrl+s kept %+v", ch)
	}
	frame = screenText(m)
	mustContain(t, frame, "result  Damp in the hall and the kitchen.", "          Mould behind the wardrobe.", "✎ Damp in the")
	if n := strings.Count(frame, "Mould behind the wardrobe."); n < 2 {
		t.Fatalf("the result is not shown whole before applying:\n%s", frame)
	}
	press(t, m, "down", "m", "a")
	rec, err := db.Get(context.Background(), note.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Fields["body"] != merged {
		t.Fatalf("applied body %q", rec.Fields["body"])
	}
}

// Clicks choose: a conflict in the list, a field's mine or theirs value,
// and the sides of a delete conflict.
func TestConflictClicks(t *testing.T) {
	_, st, m := openConflicts(t)
	clickOn(t, m, "Met the caretaker at… • Met the caretaker at… •")
	if len(m.conflicts.choices) != 0 {
		t.Fatal("a click on the base chose a side")
	}
	x, y := spot(t, m, "• Met the caretaker at… ? choose")
	drain(t, m, m.step(tea.MouseClickMsg{X: x + 2, Y: y, Button: tea.MouseLeft}))
	if ch := m.conflicts.choices[st.conflict.ID]["body"]; ch.Take != model.TakeTheirs {
		t.Fatalf("a click on theirs chose %+v", ch)
	}
	x, y = spot(t, m, "Met the caretaker at… • Met the caretaker at… •")
	cw := conflictColumn(m.width)
	drain(t, m, m.step(tea.MouseClickMsg{X: x + cw + 3, Y: y, Button: tea.MouseLeft}))
	if ch := m.conflicts.choices[st.conflict.ID]["body"]; ch.Take != model.TakeMine {
		t.Fatalf("a click on mine chose %+v", ch)
	}
	clickOn(t, m, "Old draft (kept by Bob)")
	if c := m.conflicts.list[m.conflicts.sel]; c.RecordID != st.deleteEdit.ID {
		t.Fatal("a click on the second conflict did not select it")
	}
	clickOn(t, m, "keep their changed version")
	if m.conflicts.whole[st.deleteEdit.ID] != model.TakeTheirs {
		t.Fatal("a click on theirs did not choose it")
	}
}
