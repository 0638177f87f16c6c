package model

import (
	"testing"
	"time"
)

func TestAgendaPicksAndOrders(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// 23:30 on 14 March in New York is already the 15th in UTC: "today"
	// is the 14th, where the person is.
	now := time.Date(2025, 3, 15, 3, 30, 0, 0, time.UTC)
	rec := func(id, col string, f Fields) Record { return Record{ID: id, Collection: col, Fields: f} }
	recs := []Record{
		rec("h-past", HearingCollection, Fields{"title": "Yesterday's hearing", HearingStarts: "2025-03-13T15:00:00Z"}),
		rec("h-today", HearingCollection, Fields{"title": "This morning", HearingStarts: "2025-03-14T13:00:00Z"}), // 09:00 NY
		rec("h-next", HearingCollection, Fields{"title": "Next week", HearingStarts: "2025-03-20T14:30:00Z"}),
		rec("h-far", HearingCollection, Fields{"title": "Far away", HearingStarts: "2025-05-01T14:30:00Z"}),
		rec("h-gone", HearingCollection, Fields{"title": "Deleted", HearingStarts: "2025-03-16T14:30:00Z"}),
		rec("t-late", TaskCollection, Fields{"title": "Late", TaskDue: "2025-01-02"}),
		rec("t-done", TaskCollection, Fields{"title": "Done late", TaskDue: "2025-01-02", TaskDone: true}),
		rec("t-today", TaskCollection, Fields{"title": "Today", TaskDue: "2025-03-14", TaskDone: false}),
		rec("t-next", TaskCollection, Fields{"title": "Next week", TaskDue: "2025-03-20"}),
		rec("t-none", TaskCollection, Fields{"title": "Whenever"}),
		rec("t-far", TaskCollection, Fields{"title": "Far", TaskDue: "2025-06-01"}),
		rec("n", "note", Fields{"title": "A note"}),
	}
	recs[4].Deleted = true
	got := Agenda(recs, now, ny, 7)
	want := []struct {
		id      string
		overdue bool
	}{{"t-late", true}, {"t-today", false}, {"h-today", false}, {"t-next", false}, {"h-next", false}}
	if len(got) != len(want) {
		var ids []string
		for _, a := range got {
			ids = append(ids, a.Record.ID)
		}
		t.Fatalf("agenda holds %v, want %v", ids, want)
	}
	for i, w := range want {
		if got[i].Record.ID != w.id || got[i].Overdue != w.overdue {
			t.Errorf("item %d: %s overdue=%v, want %s overdue=%v", i, got[i].Record.ID, got[i].Overdue, w.id, w.overdue)
		}
	}
	if n := len(Agenda(recs, now, ny, 0)); n != 3 {
		t.Errorf("--days 0 holds %d items, want today's 3", n)
	}
	if d := DaysLate("2025-03-12", ny, now); d != 2 {
		t.Errorf("DaysLate = %d, want 2", d)
	}
	if s := FormatDay("2025-03-20", ny, now); s != "Thu 20 Mar" {
		t.Errorf("FormatDay = %q", s)
	}
	if s := FormatDay("2024-03-20", ny, now); s != "Wed 20 Mar 2024" {
		t.Errorf("FormatDay another year = %q", s)
	}
}

func TestTimeTotals(t *testing.T) {
	e := func(id, matter, day string, min float64, billable bool) Record {
		f := Fields{MatterField: matter, TimeMinutes: min, TimeBillable: billable}
		if day != "" {
			f[TimeWorkedOn] = day
		}
		return Record{ID: id, Collection: TimeCollection, Fields: f}
	}
	recs := []Record{
		e("1", "m1", "2025-03-02", 90, true),
		e("2", "m1", "2025-03-01", 30, false),
		e("3", "m2", "2025-03-02", 15, true),
		e("4", "m2", "", 600, false),
		e("5", "m1", "2025-03-02", 45, false),
	}
	gone := e("6", "m1", "2025-03-02", 1000, true)
	gone.Deleted = true
	recs = append(recs, gone)
	byDay := TimeTotals(recs, ByDay)
	wantDay := []TimeTotal{
		{Key: "2025-03-01", Entries: 1, NonBillable: 30},
		{Key: "2025-03-02", Entries: 3, Billable: 105, NonBillable: 45},
		{Key: "", Entries: 1, NonBillable: 600},
	}
	if len(byDay) != len(wantDay) {
		t.Fatalf("by day: %+v", byDay)
	}
	for i := range wantDay {
		if byDay[i] != wantDay[i] {
			t.Errorf("by day %d: %+v, want %+v", i, byDay[i], wantDay[i])
		}
	}
	byMatter := TimeTotals(recs, ByMatter)
	if len(byMatter) != 2 || byMatter[0].Key != "m2" || byMatter[0].Total() != 615 || byMatter[1].Billable != 90 || byMatter[1].NonBillable != 75 {
		t.Errorf("by matter: %+v", byMatter)
	}
}
