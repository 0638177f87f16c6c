package ui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
	"casefile/model"
)

// rowOrder returns the lines of the screen holding each of titles, in
// the order they appear.
func rowOrder(screen string, titles ...string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		for _, t := range titles {
			if strings.Contains(l, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// TestHearingsListByInstantAndSortCycles lists hearings by when they
// start, as instants (an offset that puts a later clock time earlier
// sorts by the instant, not by the text), with the sorted column marked in
// the header; S moves the order to the next column and direction.
func TestHearingsListByInstantAndSortCycles(t *testing.T) {
	db := localdbtest.Open(t)
	m1 := seedMatter(t, db, "Smith v. Jones", 0)
	// Text order: "…T08:00…-05:00" < "…T10:00…Z"; instant order: 10:00Z first (08:00-05:00 is 13:00Z).
	mustCreate(t, db, "hearing", model.Fields{"matter_id": m1.ID, "title": "Zeta directions", "starts_at": "2026-12-15T10:00:00Z"})
	mustCreate(t, db, "hearing", model.Fields{"matter_id": m1.ID, "title": "Alpha mention", "starts_at": "2026-12-15T08:00:00-05:00"})
	mustCreate(t, db, "hearing", model.Fields{"matter_id": m1.ID, "title": "Mid trial", "starts_at": "2026-12-16T09:00:00Z"})
	m := newTestModel(t, Options{DB: db})
	m.step(tea.WindowSizeMsg{Width: 120, Height: 30})
	press(t, m, "right", "right", "right", "right")
	s := screenText(m)
	mustContain(t, s, "Hearings · all matters", "STARTS AT ↑", "MATTER")
	if got := rowOrder(s, "Zeta directions", "Alpha mention", "Mid trial"); strings.Join(got, "|") != "Zeta directions|Alpha mention|Mid trial" {
		t.Fatalf("hearings by start: %v\n%s", got, s)
	}
	// The matter column names the matter.
	mustContain(t, s, "Smith v. Jones")

	// S: the same column the other way, then each next column both ways,
	// then the last change, then the first column.
	press(t, m, "S") // starts at ↓
	s = screenText(m)
	mustContain(t, s, "STARTS AT ↓")
	if got := rowOrder(s, "Zeta directions", "Alpha mention", "Mid trial"); strings.Join(got, "|") != "Mid trial|Alpha mention|Zeta directions" {
		t.Fatalf("hearings by start, latest first: %v\n%s", got, s)
	}
	for range 2*3 + 1 { // court, room and the matter both ways, then last change
		press(t, m, "S")
	}
	press(t, m, "S") // title ↑
	s = screenText(m)
	mustContain(t, s, "TITLE ↑")
	if got := rowOrder(s, "Zeta directions", "Alpha mention", "Mid trial"); strings.Join(got, "|") != "Alpha mention|Mid trial|Zeta directions" {
		t.Fatalf("hearings by title: %v\n%s", got, s)
	}
}

// TestMatterColumnAndCountsFollowTheFilters shows the matter column only
// while every matter is listed, and sidebar counts that follow the matter
// filter and the / search.
func TestMatterColumnAndCountsFollowTheFilters(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "Alpha matter", 2)
	beta := seedMatter(t, db, "Beta matter", 3)
	mustCreate(t, db, "task", model.Fields{"matter_id": beta.ID, "title": "File the claim"})
	m := newTestModel(t, Options{DB: db})
	m.step(tea.WindowSizeMsg{Width: 120, Height: 30})
	press(t, m, "right", "right")
	s := screenText(m)
	mustContain(t, s, "MATTER", "Alpha matter", "Beta matter")
	if m.records.counts["note"] != 5 || m.records.counts["task"] != 1 {
		t.Fatalf("counts with no filter: %v", m.records.counts)
	}
	press(t, m, "m")
	typeText(t, m, "beta")
	press(t, m, "enter")
	s = screenText(m)
	if m.records.counts["note"] != 3 || m.records.counts["task"] != 1 || m.records.counts["matter"] != 1 {
		t.Fatalf("counts in Beta matter: %v", m.records.counts)
	}
	if strings.Contains(s, "MATTER ") {
		t.Fatalf("the matter column stays while one matter is shown:\n%s", s)
	}
	press(t, m, "backspace", "/")
	typeText(t, m, "Note 001")
	press(t, m, "enter")
	if m.records.counts["note"] != 2 || m.records.counts["task"] != 0 {
		t.Fatalf("counts matching “Note 001”: %v", m.records.counts)
	}
	mustContain(t, screenText(m), "▸Notes            2", "Tasks            0")
}

// TestMatterColumnFollowsARename shows a matter's new title in the matter
// column as soon as the matters are read again: a rename changes no count.
func TestMatterColumnFollowsARename(t *testing.T) {
	db := localdbtest.Open(t)
	alpha := seedMatter(t, db, "Alpha matter", 2)
	seedMatter(t, db, "Beta matter", 2)
	m := newTestModel(t, Options{DB: db})
	m.step(tea.WindowSizeMsg{Width: 120, Height: 30})
	press(t, m, "right", "right")
	mustContain(t, screenText(m), "MATTER", "Alpha matter", "Beta matter")
	if _, err := db.Update(context.Background(), alpha.ID, model.Fields{"title": "Gamma matter"}); err != nil {
		t.Fatal(err)
	}
	drain(t, m, m.refreshAll())
	s := screenText(m)
	mustContain(t, s, "Gamma matter", "Beta matter")
	mustNotContain(t, s, "Alpha matter")
}
