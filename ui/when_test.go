package ui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/model"
)

// Hearing times show in the person's zone, short, the same in the list,
// the detail and the editor; the editor reads what people type.
func TestHearingTimesInThePersonsZone(t *testing.T) {
	db := localdbtest.Open(t)
	mt := seedMatter(t, db, "Harbour Trust v. Pell", 0)
	h := mustCreate(t, db, "hearing", model.Fields{"matter_id": mt.ID, "title": "Directions", "starts_at": "2025-12-15T14:30:00Z"})
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone data here")
	}
	m := newTestModel(t, Options{DB: db, Zone: ny})
	for range 4 {
		press(t, m, "right")
	}
	mustContain(t, screenText(m), "Hearings · all matters", "Mon 15 Dec 09:30")
	press(t, m, "enter")
	s := screenText(m)
	mustContain(t, s, "Mon 15 Dec 09:30")
	mustNotContain(t, s, "14:30", "-05:00")
	press(t, m, "e")
	var start *formField
	for _, ff := range m.editor.fields {
		if ff.f.Name == "starts_at" {
			start = ff
		}
	}
	if start == nil || start.text() != "Mon 15 Dec 09:30" {
		t.Fatalf("the editor starts from %q", start.text())
	}
	// Typed the way people do, in their zone: the day after "now".
	start.line.SetValue("tomorrow 14:00")
	press(t, m, "ctrl+s")
	got, err := db.Get(context.Background(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 3, 15, 14, 0, 0, 0, ny).UTC().Format(time.RFC3339)
	if got.Fields["starts_at"] != want {
		t.Fatalf("saved %v, want %s (tomorrow 14:00 in New York)", got.Fields["starts_at"], want)
	}
	// A bad time says what would do.
	press(t, m, "e")
	for _, ff := range m.editor.fields {
		if ff.f.Name == "starts_at" {
			ff.line.SetValue("soon")
		}
	}
	press(t, m, "ctrl+s")
	mustContain(t, screenText(m), `try "9:30am"`)
}

// At 80 columns the list still shows the hour of a hearing.
func TestHearingHourVisibleAt80(t *testing.T) {
	db := localdbtest.Open(t)
	mt := seedMatter(t, db, "Harbour Trust v. Pell", 0)
	mustCreate(t, db, "hearing", model.Fields{"matter_id": mt.ID, "title": "Directions", "starts_at": "2025-12-15T09:30:00Z",
		"court": "County Court at Central London", "room": "Court 4"})
	m := newTestModel(t, Options{DB: db, Zone: time.UTC})
	m.step(tea.WindowSizeMsg{Width: 80, Height: 24})
	for range 4 {
		press(t, m, "right")
	}
	mustContain(t, screenText(m), "Mon 15 Dec 09:30")
}
