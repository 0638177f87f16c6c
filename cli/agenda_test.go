package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casefile/model"
)

// TestAddTimeTakesDurations: minutes are typed as people write time
// ("1h30", "90m", "1.5h", plain minutes), through `add time`; a typo is
// refused with an example and nothing is written.
func TestAddTimeTakesDurations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := h.add("matter", "title=Smith v Jones")
	for in, want := range map[string]float64{"1h30": 90, "90m": 90, "1.5h": 90, "45": 45, "2h": 120} {
		id := h.add("time", "matter_id="+m, "description=Drafting "+in, "minutes="+in)
		var rec model.Record
		h.okJSON(&rec, "show", id, "--json")
		if rec.Collection != "time_entry" || rec.Fields["minutes"] != want {
			t.Errorf("minutes=%s stored as %v in %s, want %v in time_entry", in, rec.Fields["minutes"], rec.Collection, want)
		}
	}
	before := h.snapshot()
	r := h.run("add", "time", "matter_id="+m, "description=Typo", "minutes=1h3x")
	if r.code == 0 || !strings.Contains(r.stderr, `"1h30"`) || !strings.Contains(r.stderr, "minutes") {
		t.Errorf("minutes=1h3x: exit %d, stderr %q; want a refusal that shows an example", r.code, r.stderr)
	}
	r = h.run("add", "t", "title=x")
	if r.code == 0 || !strings.Contains(r.stderr, "task, time_entry") {
		t.Errorf("add t: exit %d, stderr %q; want the collections it could be", r.code, r.stderr)
	}
	if h.snapshot() != before {
		t.Error("a refused add changed the database")
	}
}

// TestAgendaInTimeOrderAcrossMatters: the agenda lists hearings and
// tasks not done of every matter, due ones and overdue ones, in time
// order, shown in the configured zone; overdue ones say so in words.
func TestAgendaInTimeOrderAcrossMatters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := os.WriteFile(h.config, []byte("time_zone = \"Pacific/Auckland\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zone, err := time.LoadLocation("Pacific/Auckland")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	now := time.Now().In(zone)
	day := func(d int) string { return now.AddDate(0, 0, d).Format(time.DateOnly) }
	m1 := h.add("matter", "title=Smith v Jones")
	m2 := h.add("matter", "title=Estate of \x1b[31mBrown")
	late := h.add("task", "matter_id="+m2, "title=File the defence", "due_on="+day(-3))
	h.add("task", "matter_id="+m1, "title=Already done", "due_on="+day(-1), "done=yes")
	h.add("task", "matter_id="+m1, "title=No due day")
	soon := h.add("task", "matter_id="+m1, "title=Call the client", "due_on="+day(2))
	tomorrow := now.AddDate(0, 0, 1)
	at := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 9, 30, 0, 0, zone)
	hearing := h.add("hearing", "matter_id="+m2, "title=Directions", "starts_at="+at.Format("2006-01-02T15:04"), "court=High Court")
	far := h.add("hearing", "matter_id="+m1, "title=Trial", "starts_at="+now.AddDate(0, 0, 40).Format(time.RFC3339))

	out := h.ok("agenda")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 { // header, 3 items, blank, the overdue sentence
		t.Fatalf("agenda:\n%s", out)
	}
	order := []string{"File the defence", "Directions", "Call the client"}
	for i, title := range order {
		if !strings.Contains(lines[i+1], title) {
			t.Errorf("line %d is %q, want %q there:\n%s", i+1, lines[i+1], title, out)
		}
	}
	mustHave := []string{
		"! overdue 3 days", "1 task is overdue",
		model.FormatWhen(at, zone, time.Now()), // in the configured zone, short
		"Estate of \\x1b[31mBrown",             // stored text printed as data
	}
	for _, w := range mustHave {
		if !strings.Contains(out, w) {
			t.Errorf("agenda lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "Trial") || strings.Contains(out, "Already done") || strings.Contains(out, "No due day") {
		t.Errorf("agenda shows what it should not:\n%s", out)
	}

	var items []agendaLine
	h.okJSON(&items, "agenda", "--days", "60", "--json")
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	want := []string{late, hearing, soon, far}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("agenda --days 60 --json ids %v, want %v", ids, want)
	}
	if !items[0].Overdue || items[1].Overdue || items[0].Kind != "task" || items[1].Kind != "hearing" ||
		items[1].Matter != "Estate of \x1b[31mBrown" || !items[1].At.Equal(at) || items[0].Day != day(-3) {
		t.Errorf("agenda --json items: %+v", items[:2])
	}
	if r := h.run("agenda", "--days", "-1"); r.code == 0 || !strings.Contains(r.stderr, "--days") {
		t.Errorf("--days -1: %+v", r)
	}
	empty := newHarness(t)
	if out := empty.ok("agenda", "--days", "0"); !strings.Contains(out, "Nothing due and no hearings today") {
		t.Errorf("empty agenda: %q", out)
	}
}

// TestTimeTotalsByMatterAndDay: `casefile time` sums time per matter or
// per day, billable and not, as text and as JSON.
func TestTimeTotalsByMatterAndDay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m1 := h.add("matter", "title=Smith v Jones")
	m2 := h.add("matter", "title=Estate of Brown")
	h.add("time", "matter_id="+m1, "description=Drafting", "minutes=1h30", "billable=yes", "worked_on=2026-11-02")
	h.add("time", "matter_id="+m1, "description=Filing", "minutes=20m", "billable=no", "worked_on=2026-11-02")
	h.add("time", "matter_id="+m1, "description=Call", "minutes=0.5h", "billable=yes", "worked_on=2026-11-03")
	h.add("time", "matter_id="+m2, "description=Research", "minutes=3h", "billable=yes", "worked_on=2026-11-02")
	gone := h.add("time", "matter_id="+m2, "description=Deleted", "minutes=5h", "billable=yes")
	h.ok("rm", gone)

	out := h.ok("time")
	for _, w := range []string{"Estate of Brown", "3h", "Smith v Jones", "2h", "20m", "2h20", "TOTAL", "5h", "5h20"} {
		if !strings.Contains(out, w) {
			t.Errorf("time lacks %q:\n%s", w, out)
		}
	}
	if strings.Index(out, "Estate of Brown") > strings.Index(out, "Smith v Jones") {
		t.Errorf("matters not by most time first:\n%s", out)
	}
	var byDay struct {
		By   string          `json:"by"`
		Rows []timeTotalLine `json:"rows"`
		Tot  timeTotalLine   `json:"total"`
	}
	h.okJSON(&byDay, "time", "--matter", m1, "--json")
	if byDay.By != "day" || len(byDay.Rows) != 2 || *byDay.Rows[0].Day != "2026-11-02" ||
		byDay.Rows[0].BillableMinutes != 90 || byDay.Rows[0].NonBillableMinutes != 20 ||
		byDay.Rows[1].BillableMinutes != 30 || byDay.Tot.TotalMinutes != 140 || byDay.Tot.Entries != 3 {
		t.Errorf("time --matter --json: %+v", byDay)
	}
	// A matter by the start of its title, as everywhere.
	h.okJSON(&byDay, "time", "--matter", "Smith", "--json")
	if byDay.Tot.TotalMinutes != 140 {
		t.Errorf("time --matter Smith: %+v", byDay)
	}
	h.okJSON(&byDay, "time", "--by", "day", "--json")
	if len(byDay.Rows) != 2 || byDay.Rows[0].TotalMinutes != 290 || byDay.Tot.TotalMinutes != 320 {
		t.Errorf("time --by day --json: %+v", byDay)
	}
	if r := h.run("time", "--by", "week"); r.code != 2 || !strings.Contains(r.stderr, "day or matter") {
		t.Errorf("--by week: %+v", r)
	}
	if r := h.run("time", "--matter", unknownID); r.code == 0 || !strings.Contains(r.stderr, "no matter") {
		t.Errorf("--matter unknown: %+v", r)
	}
}

// TestExportOneMatter: export --matter writes the matter and the records
// it holds, nothing of other matters, and a fresh device imports it.
func TestExportOneMatter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m1, note := h.seed()
	m2 := h.add("matter", "title=Estate of Brown")
	task := h.add("task", "matter_id="+m1, "title=Call", "due_on=2026-12-01")
	te := h.add("time", "matter_id="+m1, "description=Drafting", "minutes=1h30")
	h.add("note", "matter_id="+m2, "title=Not this one")

	out := h.ok("export", "--matter", m1)
	if byTitle := h.ok("export", "--matter", "Smith v"); byTitle != out {
		t.Errorf("export --matter by title differs from by id:\n%s", byTitle)
	}
	ids := jsonlIDs(t, out)
	if len(ids) != 4 || ids[0] != m1 || strings.Contains(out, m2) {
		t.Fatalf("export --matter holds %v, want the matter first and its 3 records:\n%s", ids, out)
	}
	for _, id := range []string{note, task, te} {
		if !strings.Contains(out, id) {
			t.Errorf("export --matter lacks %s", id)
		}
	}
	file := filepath.Join(t.TempDir(), "matter.jsonl")
	h.ok("export", "--matter", m1, "--out", file)
	fresh := newHarness(t)
	if r := fresh.run("import", "--file", file); r.code != 0 || !strings.Contains(r.stderr, "Imported 4 records") {
		t.Fatalf("import of one matter: %+v", r)
	}
	var got []model.Record
	fresh.okJSON(&got, "list", "time_entry", "--json")
	if len(got) != 1 || got[0].ID != te || got[0].Fields["minutes"] != 90.0 {
		t.Errorf("imported time entries: %+v", got)
	}
	if r := h.run("export", "--matter", note); r.code == 0 || !strings.Contains(r.stderr, "no matter") {
		t.Errorf("export --matter of a note: %+v", r)
	}
	csvOut := h.ok("export", "note", "--matter", m2, "--format", "csv")
	if !strings.Contains(csvOut, "Not this one") || strings.Contains(csvOut, "First meeting") {
		t.Errorf("csv export of one matter's notes:\n%s", csvOut)
	}
}
