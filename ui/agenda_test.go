package ui

import (
	"strings"
	"testing"

	"casefile/localdb/localdbtest"
	"casefile/model"
)

// TestAgendaPane: the agenda lists hearings and tasks of every matter in
// time order in the person's zone, overdue tasks flagged with "!" and a
// word; + and - look further or nearer; enter opens the record.
func TestAgendaPane(t *testing.T) {
	m, c := newCaseModel(t)
	press(t, m, "5")
	scr := screenText(m)
	mustContain(t, scr, "Agenda · today and the next 7 days", "5 items · ! 1 overdue", "! overdue 3 days", "due today",
		"Fri 14 Mar 14:00", "Mon 17 Mar 09:30", "High Court, 4")
	mustNotContain(t, scr, "Serve the claim", "Read the lease", "First mention", "Next month's task")
	var got []string
	for _, it := range m.agenda.items {
		got = append(got, it.Record.ID)
	}
	want := []string{c.late.ID, c.today.ID, c.otherHear.ID, c.hearing.ID}
	if len(got) != 5 || strings.Join(got[:4], ",") != strings.Join(want, ",") {
		t.Fatalf("agenda order %v, want %v then the task of the 19th", got, want)
	}
	// Never by colour alone: the overdue row says so in plain text too.
	m.sh.Styles = NewStyles(ThemeAuto, true, true)
	for _, l := range strings.Split(screenText(m), "\n") {
		if strings.Contains(l, "File the defence") && !strings.Contains(l, "! overdue") {
			t.Fatalf("the overdue row does not say so: %q", l)
		}
	}

	press(t, m, "+", "+", "+", "+", "+", "+")
	mustContain(t, screenText(m), "today and the next 49 days", "Next month's task")
	press(t, m, "-", "-", "-", "-", "-", "-", "-", "-")
	scr = screenText(m)
	mustContain(t, scr, "Agenda · today", "3 items")
	mustNotContain(t, scr, "Directions hearing")

	press(t, m, "down", "enter")
	if m.detail == nil || m.detail.id != c.today.ID || m.screen != screenRecords {
		t.Fatalf("enter in the agenda did not open the task:\n%s", screenText(m))
	}
}

// TestAgendaEmpty says what to do when nothing is coming.
func TestAgendaEmpty(t *testing.T) {
	db := localdbtest.Open(t)
	mustCreate(t, db, "matter", model.Fields{"title": "Quiet matter"})
	m := newTestModel(t, Options{DB: db})
	press(t, m, "5")
	mustContain(t, screenText(m), "Nothing due and no hearings today and the next 7 days. Press + to look further ahead.")
}

// TestEditorTakesMinutesAsDurations: the time entry form reads "1h30",
// shows a stored 90 back as "1h30", and refuses a typo with an example,
// keeping what was typed.
func TestEditorTakesMinutesAsDurations(t *testing.T) {
	m, c := newCaseModel(t)
	drain(t, m, m.step(editMsg{collection: "time_entry", matterID: c.matter.ID}))
	focusField(t, m, "description")
	typeText(t, m, "Hearing prep")
	focusField(t, m, "minutes")
	typeText(t, m, "1h3x")
	press(t, m, "ctrl+s")
	if m.editor == nil {
		t.Fatal("a bad duration was saved")
	}
	var minErr string
	for _, ff := range m.editor.fields {
		if ff.f.Name == "minutes" {
			minErr = ff.err
			if ff.text() != "1h3x" {
				t.Errorf("the typed text became %q", ff.text())
			}
		}
	}
	if !strings.Contains(minErr, `not a duration: "1h3x"`) || !strings.Contains(minErr, `"1h30"`) {
		t.Fatalf("minutes error %q, want one with an example", minErr)
	}
	press(t, m, "backspace", "backspace")
	typeText(t, m, "30")
	press(t, m, "ctrl+s")
	if m.editor != nil || m.detail == nil || m.detail.rec.Fields["minutes"] != 90.0 {
		t.Fatalf("1h30 not saved as 90 minutes:\n%s", screenText(m))
	}
	mustContain(t, screenText(m), "1h30")
	press(t, m, "e")
	focusField(t, m, "minutes")
	for _, ff := range m.editor.fields {
		if ff.f.Name == "minutes" && ff.text() != "1h30" {
			t.Fatalf("the editor starts minutes from %q, want 1h30", ff.text())
		}
	}
}
