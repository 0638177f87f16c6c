package ui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

func openConflicts(t *testing.T) (*localdb.DB, states, *Model) {
	t.Helper()
	db := localdbtest.Open(t)
	st := seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2")
	if len(m.conflicts.list) != 2 {
		t.Fatalf("%d conflicts listed, want 2", len(m.conflicts.list))
	}
	return db, st, m
}

func TestConflictChoicesPerFieldAndAll(t *testing.T) {
	_, st, m := openConflicts(t)
	c := m.conflicts
	if c.list[c.sel].RecordID != st.conflict.ID {
		t.Fatal("the edit conflict is not selected first")
	}
	press(t, m, "a") // nothing chosen yet
	mustContain(t, screenText(m), "Nothing applied: 1 field has no side yet; choose m mine, t theirs or e a value.")
	press(t, m, "t")
	if ch := c.choices[st.conflict.ID]["body"]; ch.Take != model.TakeTheirs {
		t.Fatalf("t chose %v", ch)
	}
	press(t, m, "M")
	if ch := c.choices[st.conflict.ID]["body"]; ch.Take != model.TakeMine {
		t.Fatalf("M chose %v", ch)
	}
	mustContain(t, screenText(m), "← mine", "Every field has a side.")
	// Keys of the review never leak into the app: m is "mine", not the
	// matter filter; the records screen is untouched.
	if m.records.picker != nil {
		t.Fatal("m opened the matter filter from the conflict review")
	}
}

func TestConflictEditMergedValueAndApply(t *testing.T) {
	db, st, m := openConflicts(t)
	press(t, m, "e")
	if !m.conflicts.editing || !m.conflicts.long {
		t.Fatal("e did not start merging the long text")
	}
	mustContain(t, screenText(m), "Merging the body", "ctrl+s keeps this text")
	press(t, m, "ctrl+k") // the area starts on mine, the cursor at its start
	typeText(t, m, "Met the caretaker at the gate; he saw the van at 9 but was not helpful.")
	press(t, m, "ctrl+s")
	ch := m.conflicts.choices[st.conflict.ID]["body"]
	if ch.Take != model.TakeValue || ch.Value != "Met the caretaker at the gate; he saw the van at 9 but was not helpful." {
		t.Fatalf("choice = %+v", ch)
	}
	press(t, m, "a")
	if n := len(m.conflicts.list); n != 1 {
		t.Fatalf("%d conflicts left after applying, want 1", n)
	}
	rec, err := db.Get(context.Background(), st.conflict.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != model.StatePending || rec.Fields["body"] != ch.Value || rec.Fields["status"] != "review" {
		t.Fatalf("after resolve: state %s, fields %v", rec.State, rec.Fields)
	}
	s := screenText(m)
	mustContain(t, s, "Conflict resolved.", "Conflicts (1)")
	mustNotContain(t, s, "Caretaker statement")
}

func TestConflictMergedValueIsValidated(t *testing.T) {
	_, st, m := openConflicts(t)
	press(t, m, "]", "[") // around and back to the edit conflict
	press(t, m, "e", "ctrl+k", "ctrl+s")
	// An empty body is allowed (body is optional): it is chosen.
	if ch := m.conflicts.choices[st.conflict.ID]["body"]; ch.Take != model.TakeValue || ch.Value != nil {
		t.Fatalf("empty value choice = %+v", ch)
	}
}

func TestConflictDeleteVersusEditKeepOrDelete(t *testing.T) {
	db, st, m := openConflicts(t)
	press(t, m, "]")
	c := m.conflicts.list[m.conflicts.sel]
	if c.RecordID != st.deleteEdit.ID || c.Kind != model.ConflictDeleteEdit {
		t.Fatalf("selected %s (%s)", c.RecordID, c.Kind)
	}
	s := screenText(m)
	mustContain(t, s, "You deleted it here; someone changed it on the server.", "delete it anyway (mine)", "keep their changed version (theirs)")
	press(t, m, "a")
	mustContain(t, screenText(m), "Choose first")
	press(t, m, "t", "a") // keep their version: nothing to send
	rec, err := db.Get(context.Background(), st.deleteEdit.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Deleted || rec.State != model.StateSynced || rec.Fields["title"] != "Old draft (kept by Bob)" {
		t.Fatalf("after keeping theirs: deleted %v, state %s, %v", rec.Deleted, rec.State, rec.Fields)
	}
	if len(m.conflicts.list) != 1 {
		t.Fatalf("%d conflicts left", len(m.conflicts.list))
	}
}

// At 80×24 the review fills the screen: a refused apply still says why,
// in the status line.
func TestConflictApplySaysWhyAt80x24(t *testing.T) {
	_, _, m := openConflicts(t)
	m.step(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(t, m, "a")
	lines := strings.Split(screenText(m), "\n")
	if len(lines) != 24 || !strings.Contains(lines[22], "Nothing applied: 1 field has no side yet") {
		t.Fatalf("the status line does not say why:\n%s", strings.Join(lines, "\n"))
	}
}

func TestConflictReviewFromDetail(t *testing.T) {
	_, st, m := openConflicts(t)
	press(t, m, "1")
	m.step(openRecordMsg{id: st.deleteEdit.ID})
	drain(t, m, m.detail.Init())
	mustContain(t, screenText(m), "Someone else changed this record too. Press c to review the conflict.")
	press(t, m, "c")
	if m.screen != screenConflicts || m.conflicts.list[m.conflicts.sel].RecordID != st.deleteEdit.ID {
		t.Fatal("c did not open the review of this record")
	}
}

// helpKeys are the keys a help lists, by their names.
func helpKeys(cols ...[]key.Binding) []string {
	var out []string
	for _, col := range cols {
		for _, b := range col {
			out = append(out, b.Help().Key)
		}
	}
	return out
}

// The review's help offers only keys that act on what it shows: none
// without a conflict; for a delete conflict, the two sides and apply,
// never b or e; [ and ] only with another conflict to go to.
func TestConflictHelpListsOnlyKeysThatAct(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2")
	if got := helpKeys(m.conflicts.ShortHelp()); len(got) != 0 {
		t.Fatalf("with no conflicts the hints offer %v", got)
	}
	if got := helpKeys(m.conflicts.FullHelp()...); len(got) != 0 {
		t.Fatalf("with no conflicts the full help offers %v", got)
	}
	mustNotContain(t, screenText(m), "take mine", "merge by hand", "apply")

	_, st, m := openConflicts(t)
	press(t, m, "]")
	if c, _, _ := m.conflicts.current(); c.RecordID != st.deleteEdit.ID {
		t.Fatal("the delete conflict is not selected")
	}
	full := helpKeys(m.conflicts.FullHelp()...)
	for _, k := range []string{"m", "t", "a", "]", "["} {
		if !slices.Contains(full, k) {
			t.Fatalf("the full help of a delete conflict lacks %s: %v", k, full)
		}
	}
	for _, k := range []string{"b", "e", "ctrl+e", "↑/k", "↓/j"} {
		if slices.Contains(full, k) {
			t.Fatalf("the full help of a delete conflict offers %s, which does nothing there: %v", k, full)
		}
	}
	if short := helpKeys(m.conflicts.ShortHelp()); slices.Contains(short, "e") || slices.Contains(short, "b") {
		t.Fatalf("the hints of a delete conflict offer %v", short)
	}

	mustContain(t, screenText(m), "[ ] previous/next")

	// One conflict left: nowhere to go with [ and ].
	press(t, m, "t", "a")
	if n := len(m.conflicts.list); n != 1 {
		t.Fatalf("%d conflicts left", n)
	}
	for _, k := range helpKeys(append(m.conflicts.FullHelp(), m.conflicts.ShortHelp())...) {
		if k == "[" || k == "]" {
			t.Fatalf("with one conflict the help offers %s", k)
		}
	}
	mustNotContain(t, screenText(m), "previous/next")
}

// TestConflictShowsChoicesByTheirLabels: a conflict over a choice shows
// each side by its label, as the rest of the screens do.
func TestConflictShowsChoicesByTheirLabels(t *testing.T) {
	ctx := context.Background()
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Pell"})
	c := mustCreate(t, db, "contact", model.Fields{"matter_id": mt.ID, "name": "R. Pell", "role": "witness"})
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	})
	if _, err := db.Update(ctx, c.ID, model.Fields{"role": "opposing_counsel"}); err != nil {
		t.Fatal(err)
	}
	pushOne(t, db, func(op localdb.OutboxOp) protocol.OpResult {
		theirs := model.Fields{"matter_id": mt.ID, "name": "R. Pell", "role": "expert_witness"}
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultConflict, Record: serverRecord(op, 2, theirs),
			ConflictFields: []string{"role"}}
	})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "2")
	v := screenText(m)
	mustContain(t, v, "opposing counsel", "expert_witness")
	mustNotContain(t, v, "opposing_counsel")
}
