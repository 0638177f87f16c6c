package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
)

// cet is the person's zone in the hub and agenda tests: an hour ahead of
// UTC, fixed, so goldens never depend on the machine's zone data.
var cet = time.FixedZone("CET", 3600)

// caseFile is a matter with something in every collection, and a second
// matter, around fixedNow (Fri 14 Mar 2025, 16:30 in cet).
type caseFile struct {
	matter, other              model.Record
	late, today, done, undated model.Record
	hearing, past, otherHear   model.Record
}

func seedCaseFile(t testing.TB, db *localdb.DB) caseFile {
	t.Helper()
	var c caseFile
	c.matter = mustCreate(t, db, "matter", model.Fields{"title": "Harbour Trust v. Pell", "client": "Harbour Trust", "case_number": "CV-2025-0142", "status": "open"})
	c.other = mustCreate(t, db, "matter", model.Fields{"title": "Estate of Brown", "client": "R. Brown", "status": "open"})
	m, o := c.matter.ID, c.other.ID
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Site meeting minutes", "status": "closed", "tags": []string{"site"}})
	mustCreate(t, db, "note", model.Fields{"matter_id": m, "title": "Questions for the surveyor", "status": "draft"})
	c.late = mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "File the defence", "due_on": "2025-03-11", "priority": "urgent"})
	c.today = mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "Call the insurer", "due_on": "2025-03-14"})
	c.done = mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "Serve the claim", "due_on": "2025-03-01", "done": true})
	c.undated = mustCreate(t, db, "task", model.Fields{"matter_id": m, "title": "Read the lease"})
	c.hearing = mustCreate(t, db, "hearing", model.Fields{"matter_id": m, "title": "Directions hearing", "starts_at": "2025-03-17T08:30:00Z", "court": "High Court", "room": "4"})
	c.past = mustCreate(t, db, "hearing", model.Fields{"matter_id": m, "title": "First mention", "starts_at": "2025-02-03T09:00:00Z", "court": "High Court"})
	mustCreate(t, db, "document", model.Fields{"matter_id": m, "title": "Statement of claim", "filename": "claim.pdf", "kind": "pleading"})
	mustCreate(t, db, "contact", model.Fields{"matter_id": m, "name": "Dana Pell", "role": "opposing_counsel", "organisation": "Pell & Co"})
	mustCreate(t, db, "time_entry", model.Fields{"matter_id": m, "description": "Drafting the defence", "worked_on": "2025-03-12", "minutes": 90.0, "billable": true})
	mustCreate(t, db, "time_entry", model.Fields{"matter_id": m, "description": "Court filing run", "worked_on": "2025-03-13", "minutes": 45.0, "billable": false})
	mustCreate(t, db, "time_entry", model.Fields{"matter_id": m, "description": "Call with client", "worked_on": "2025-03-13", "minutes": 30.0, "billable": true})
	c.otherHear = mustCreate(t, db, "hearing", model.Fields{"matter_id": o, "title": "Probate hearing", "starts_at": "2025-03-14T13:00:00Z", "court": "Probate Registry"})
	mustCreate(t, db, "task", model.Fields{"matter_id": o, "title": "Value the house", "due_on": "2025-03-19"})
	mustCreate(t, db, "task", model.Fields{"matter_id": o, "title": "Next month's task", "due_on": "2025-04-30"})
	return c
}

// newCaseModel is the app over seedCaseFile, in cet, at fixedNow.
func newCaseModel(t *testing.T) (*Model, caseFile) {
	t.Helper()
	db := localdbtest.Open(t)
	c := seedCaseFile(t, db)
	m := newTestModel(t, Options{DB: db, Zone: cet})
	return m, c
}

// TestEnterOnMatterOpensHub: enter on a matter opens it as the hub: its
// facts, the count of every collection, the time (billable and not),
// and its records, hearings and tasks by date; any row opens, esc goes
// back from the record to the hub and from the hub to the list.
func TestEnterOnMatterOpensHub(t *testing.T) {
	m, c := newCaseModel(t)
	mustContain(t, screenText(m), "Harbour Trust v. Pell")
	press(t, m, "down") // Estate of Brown was created last: most recent first
	press(t, m, "enter")
	if m.hub == nil || m.hub.id != c.matter.ID {
		t.Fatalf("enter on a matter opened no hub:\n%s", screenText(m))
	}
	scr := screenText(m)
	mustContain(t, scr, "Matter · Harbour Trust v. Pell", "Harbour Trust · CV-2025-0142 · open",
		"2 notes · 4 tasks · 2 hearings · 1 document · 1 contact · 3 time entries · 0 site visits",
		"Time 2h45 · billable 2h · not billable 45m",
		"By day: Thu 13 Mar 1h15 (30m billable) · Wed 12 Mar 1h30 billable",
		"Notes · 2", "Tasks · 4", "Hearings · 2")
	mustNotContain(t, scr, "Probate hearing", "Value the house")
	// Tasks to do by due day, undated after, done last; the late one flagged.
	order := []string{"File the defence", "Call the insurer", "Read the lease", "Serve the claim", "Directions hearing", "First mention"}
	full := m.hub.allText()
	last := -1
	for _, title := range order {
		i := strings.Index(full, title)
		if i < last {
			t.Fatalf("%q is out of order in the hub:\n%s", title, full)
		}
		last = i
	}
	mustContain(t, full, "Tue 11 Mar", "! overdue", "✓ done", "☐ to do", "Mon 17 Mar 09:30", "1h30 billable", "+ add a visit")

	// Down to the late task, open it, and back.
	for i := 0; i < 10 && !strings.Contains(selectedLine(m), "File the defence"); i++ {
		press(t, m, "down")
	}
	press(t, m, "enter")
	if m.detail == nil || m.detail.id != c.late.ID {
		t.Fatalf("enter on a task in the hub did not open it:\n%s", screenText(m))
	}
	press(t, m, "esc")
	if m.detail != nil || m.hub == nil || !strings.Contains(selectedLine(m), "File the defence") {
		t.Fatalf("esc from the record did not go back to the hub on the same row:\n%s", screenText(m))
	}
	press(t, m, "esc")
	if m.hub != nil || m.shown() != pane(m.records) {
		t.Fatalf("esc from the hub did not go back to the list:\n%s", screenText(m))
	}
}

// TestHubMatterRowAndAddRow: the hub's first row opens the matter's own
// detail; an empty collection offers a row that adds one to this matter.
func TestHubMatterRowAndAddRow(t *testing.T) {
	m, c := newCaseModel(t)
	drain(t, m, m.step(openRecordMsg{id: c.matter.ID}))
	press(t, m, "enter")
	if m.detail == nil || m.detail.id != c.matter.ID {
		t.Fatalf("enter on the matter row did not open its detail:\n%s", screenText(m))
	}
	press(t, m, "esc", "G", "enter")
	if m.editor == nil || m.editor.col.Name != "visit" || m.editor.fields[0].refID != c.matter.ID {
		t.Fatalf("enter on “add a visit” did not open a new visit of this matter:\n%s", screenText(m))
	}
}

// TestHubShowsWhatTheDatabaseHolds: a record added to the matter by
// another process shows in the hub at the next look.
func TestHubShowsWhatTheDatabaseHolds(t *testing.T) {
	m, c := newCaseModel(t)
	drain(t, m, m.step(openRecordMsg{id: c.matter.ID}))
	mustCreate(t, m.sh.DB, "time_entry", model.Fields{"matter_id": c.matter.ID, "description": "Late night", "minutes": 60.0, "billable": true})
	mustCreate(t, m.sh.DB, "time_entry", model.Fields{"matter_id": c.matter.ID, "description": "Photocopying", "worked_on": "2025-03-14", "minutes": 20.0})
	drain(t, m, m.step(pollMsg{}))
	mustContain(t, screenText(m), "Time 4h05 · billable 3h · not billable 1h05", "5 time entries",
		"By day: Fri 14 Mar 20m not billable · Thu 13 Mar 1h15 (30m billable) · Wed 12 Mar 1h30 billable", "no day 1h billable")
}

// TestMarkDoneFromEveryList: the done key marks the task under the
// cursor done in the hub, the tasks list and the agenda, each an
// ordinary local edit (queued and journaled), and the agenda drops it.
func TestMarkDoneFromEveryList(t *testing.T) {
	m, c := newCaseModel(t)
	ctx := context.Background()
	db := m.sh.DB
	outboxFor := func(id string) int {
		ops, err := db.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, op := range ops {
			if op.RecordID == id {
				n++
			}
		}
		return n
	}
	doneOf := func(id string) bool {
		r, err := db.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := r.Fields["done"].(bool)
		return d
	}

	// The agenda.
	press(t, m, "5")
	if !strings.Contains(selectedLine(m), "File the defence") {
		t.Fatalf("the agenda does not start at the overdue task:\n%s", screenText(m))
	}
	press(t, m, "space")
	if !doneOf(c.late.ID) {
		t.Fatal("space in the agenda did not mark the task done")
	}
	mustContain(t, screenText(m), "Marked “File the defence” done.")
	for _, it := range m.agenda.items {
		if it.Record.ID == c.late.ID {
			t.Fatal("the agenda still lists the task marked done")
		}
	}
	js, err := db.Journal(ctx, localdb.JournalQuery{RecordID: c.late.ID, Limit: 1})
	if err != nil || len(js) != 1 || js[0].Kind != localdb.JournalUpdate || js[0].After["done"] != true {
		t.Fatalf("marking done journaled %+v, %v", js, err)
	}

	// The hub: the undated task, done and not done again.
	drain(t, m, m.step(openRecordMsg{id: c.matter.ID}))
	for i := 0; i < 10 && !strings.Contains(selectedLine(m), "Read the lease"); i++ {
		press(t, m, "down")
	}
	press(t, m, "space")
	if !doneOf(c.undated.ID) || !strings.Contains(screenText(m), "Marked “Read the lease” done.") {
		t.Fatalf("space in the hub did not mark the task done:\n%s", screenText(m))
	}
	for i := 0; i < 10 && !strings.Contains(selectedLine(m), "Read the lease"); i++ {
		press(t, m, "down")
	}
	press(t, m, "space")
	if doneOf(c.undated.ID) || !strings.Contains(screenText(m), "Marked “Read the lease” not done.") {
		t.Fatalf("space again did not mark it not done:\n%s", screenText(m))
	}
	// Both edits fold into the task's one unsent create.
	if n := outboxFor(c.undated.ID); n != 1 {
		t.Errorf("the task has %d queued ops, want its one create", n)
	}

	// The tasks list.
	press(t, m, "esc")
	for i := 0; i < 10 && m.records.collection().Name != "task"; i++ {
		press(t, m, "right")
	}
	mustContain(t, screenText(m), "space task done")
	for i := 0; i < 10; i++ {
		if rec, ok := m.records.selected(); ok && rec.ID == c.today.ID {
			break
		}
		press(t, m, "down")
	}
	press(t, m, "space")
	if !doneOf(c.today.ID) {
		t.Fatalf("space in the tasks list did not mark the task done:\n%s", screenText(m))
	}

	// Not a task: nothing happens.
	for i := 0; i < 10 && m.records.collection().Name != "note"; i++ {
		press(t, m, "left")
	}
	before, _ := db.Outbox(ctx)
	press(t, m, "space")
	if after, _ := db.Outbox(ctx); len(after) != len(before) {
		t.Error("space on a note wrote something")
	}
}

// selectedLine is the line of the screen under the cursor ("▸").
func selectedLine(m *Model) string {
	for _, l := range strings.Split(screenText(m), "\n") {
		if strings.Contains(l, "▸") {
			return l
		}
	}
	return ""
}

// allText is every line of the hub, scrolled or not.
func (p *hubPane) allText() string {
	lines, _ := p.lines()
	return ansi.Strip(strings.Join(lines, "\n"))
}

// TestHubControlCharactersShownAsData: titles with terminal controls are
// printed as visible escapes in the hub and the agenda.
func TestHubControlCharactersShownAsData(t *testing.T) {
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Evil\x1b]0;owned\x07 matter", "client": "C\x1b[2J"})
	mustCreate(t, db, "task", model.Fields{"matter_id": mt.ID, "title": "Task \x1b[31mred", "due_on": "2025-03-14"})
	m := newTestModel(t, Options{DB: db, Zone: cet})
	drain(t, m, m.step(openRecordMsg{id: mt.ID}))
	scr := m.render()
	mustContain(t, ansi.Strip(scr), `Evil\x1b]0;owned\x07 matter`, `C\x1b[2J`, `Task \x1b[31mred`)
	press(t, m, "5")
	mustContain(t, ansi.Strip(m.render()), `Task \x1b[31mred`, `Evil\x1b]0;owned\`)
	for _, bad := range []string{"\x1b]0;", "\x1b[2J", "\x1b[31m", "\x07"} {
		if strings.Contains(m.render(), bad) || strings.Contains(scr, bad) {
			t.Fatalf("a stored control sequence reached the terminal: %q", bad)
		}
	}
}

// startGoldenAt is startGolden at a size of our own, over the case file,
// in cet at fixedNow.
func startGoldenAt(t *testing.T, w, h int) (*goldenRun, caseFile) {
	t.Helper()
	db := localdbtest.Open(t)
	c := seedCaseFile(t, db)
	m := New(Options{DB: db, Zone: cet, Now: func() time.Time { return fixedNow }, Getenv: func(string) string { return "" }})
	g := &goldenRun{t: t}
	wm := g.watch(m)
	g.tm = teatest.NewTestModel(t, wm,
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY), tea.WithEnvironment([]string{"TERM=xterm-256color"})))
	t.Cleanup(func() { g.tm.Quit() })
	g.waitForMatters()
	return g, c
}

func TestGoldenMatterHub(t *testing.T) {
	g, _ := startGoldenAt(t, 80, 24)
	g.waitFor("Estate of Brown")
	g.keys("Matter · Harbour Trust v. Pell", "down", "enter")
	g.keys("▸ File the defence", "down", "down", "down")
	g.finish()
}

func TestGoldenAgenda(t *testing.T) {
	g, _ := startGoldenAt(t, 80, 24)
	g.waitFor("Estate of Brown")
	g.keys("! 1 overdue", "5")
	g.keys("▸ Fri 14 Mar 14:00", "down", "down")
	g.finish()
}

// clickLine clicks the first line of the screen that holds text.
func clickLine(t *testing.T, m *Model, text string) {
	t.Helper()
	for y, l := range strings.Split(screenText(m), "\n") {
		if strings.Contains(l, text) {
			drain(t, m, m.step(tea.MouseClickMsg{X: 10, Y: y, Button: tea.MouseLeft}))
			return
		}
	}
	t.Fatalf("no line with %q:\n%s", text, screenText(m))
}

// TestHubAndAgendaRowsClick: a click selects a row of the hub or the
// agenda, a second click opens it.
func TestHubAndAgendaRowsClick(t *testing.T) {
	m, c := newCaseModel(t)
	drain(t, m, m.step(openRecordMsg{id: c.matter.ID}))
	clickLine(t, m, "Directions hearing")
	if !strings.Contains(selectedLine(m), "Directions hearing") || m.detail != nil {
		t.Fatalf("a click did not select the row:\n%s", screenText(m))
	}
	clickLine(t, m, "Directions hearing")
	if m.detail == nil || m.detail.id != c.hearing.ID {
		t.Fatalf("a second click did not open the hearing:\n%s", screenText(m))
	}
	press(t, m, "5")
	clickLine(t, m, "Value the house")
	clickLine(t, m, "Value the house")
	if m.detail == nil || m.screen != screenRecords || !strings.Contains(screenText(m), "Value the house") {
		t.Fatalf("two clicks in the agenda did not open the task:\n%s", screenText(m))
	}
}

// TestHubTimeTotalCountsEveryEntry: the total counts every time entry
// of the matter, past the cap of the records read to sort a section
// (a regression: it once stopped at hubSortCap).
func TestHubTimeTotalCountsEveryEntry(t *testing.T) {
	was := hubSortCap
	hubSortCap = 40
	t.Cleanup(func() { hubSortCap = was })
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Big matter"})
	n := hubSortCap + 60
	items := make([]localdb.ImportItem, n)
	for i := range items {
		items[i].Fields = model.Fields{"matter_id": mt.ID, "description": "Call", "minutes": 1.0, "billable": i%2 == 0}
	}
	if err := db.Import(context.Background(), "time_entry", items); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, Options{DB: db, Zone: cet})
	drain(t, m, m.step(openRecordMsg{id: mt.ID}))
	total := model.FormatMinutes(float64(n))
	half := model.FormatMinutes(float64(n / 2))
	mustContain(t, screenText(m), "Time "+total+" · billable "+half+" · not billable "+half)
}

// TestHubAndAgendaReadsDoNotPileUp: while a read runs, more changes ask
// for a single read after it, not one each.
func TestHubAndAgendaReadsDoNotPileUp(t *testing.T) {
	m, c := newCaseModel(t)
	drain(t, m, m.step(openRecordMsg{id: c.matter.ID}))
	h := m.hub
	first := h.refresh()
	if first == nil {
		t.Fatal("no read started")
	}
	for range 5 {
		if cmd := h.refresh(); cmd != nil {
			t.Fatal("a second read started while one runs")
		}
	}
	mustCreate(t, m.sh.DB, "note", model.Fields{"matter_id": c.matter.ID, "title": "Written meanwhile"})
	next := h.Update(first())
	if next == nil {
		t.Fatal("the changes asked for no read after the one running")
	}
	if h.Update(next()) != nil {
		t.Fatal("more than one read followed")
	}
	mustContain(t, h.allText(), "Written meanwhile", "Notes · 3")

	a := m.agenda
	firstA := a.refresh()
	if a.refresh() != nil || firstA == nil {
		t.Fatal("the agenda started two reads")
	}
	// Changing the days reads at once; the older answer is dropped.
	press(t, m, "5", "+")
	if a.Update(firstA()) != nil || a.days != 2*agendaDays {
		t.Fatalf("the agenda took an answer it no longer waits for (days %d)", a.days)
	}
}

// TestEnterOnMatterBeforeMattersLoaded: enter on a matter opens its hub
// even before the app has read the list of matters (a slow start; a
// regression: it opened the matter's detail then).
func TestEnterOnMatterBeforeMattersLoaded(t *testing.T) {
	m, c := newCaseModel(t)
	m.sh.Matters = nil
	press(t, m, "down", "enter")
	if m.hub == nil || m.hub.id != c.matter.ID || m.detail != nil {
		t.Fatalf("enter on a matter did not open its hub:\n%s", screenText(m))
	}
}
