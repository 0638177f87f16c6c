package model

import (
	"cmp"
	"slices"
	"time"
)

// The collections and fields the agenda and the time totals read.
const (
	HearingCollection = "hearing"
	HearingStarts     = "starts_at"
	TaskCollection    = "task"
	TaskDue           = "due_on"
	TaskDone          = "done"
	TimeCollection    = "time_entry"
	TimeMinutes       = "minutes"
	TimeBillable      = "billable"
	TimeWorkedOn      = "worked_on"
)

// AgendaItem is one line of the agenda: a hearing at its start, or a task
// not done on its due day.
type AgendaItem struct {
	Record Record
	// At is the hearing's start, or the first instant of the task's due
	// day in the person's zone.
	At time.Time
	// Day is the due day (YYYY-MM-DD) of a task; empty for a hearing.
	Day string
	// Overdue marks a task whose due day is before today.
	Overdue bool
}

// IsTask reports whether the item is a task (else a hearing).
func (a AgendaItem) IsTask() bool { return a.Record.Collection == TaskCollection }

// Agenda picks, from hearings and tasks of any matters, what is coming:
// hearings starting from today's first instant up to the end of the day
// days after today, and tasks not done that are due by then, overdue
// ones included whatever their age. Deleted records and tasks without a
// due day are left out. Items come in time order: a task on its day's
// first instant, before the hearings of that day; then by title and id.
func Agenda(recs []Record, now time.Time, zone *time.Location, days int) []AgendaItem {
	if zone == nil {
		zone = time.UTC
	}
	local := now.In(zone)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, zone)
	end := today.AddDate(0, 0, max(0, days)+1)
	var out []AgendaItem
	for _, r := range recs {
		if r.Deleted {
			continue
		}
		switch r.Collection {
		case HearingCollection:
			s, _ := r.Fields[HearingStarts].(string)
			t, err := ParseDateTime(s)
			if err != nil || t.Before(today) || !t.Before(end) {
				continue
			}
			out = append(out, AgendaItem{Record: r, At: t})
		case TaskCollection:
			if done, _ := r.Fields[TaskDone].(bool); done {
				continue
			}
			s, _ := r.Fields[TaskDue].(string)
			d, err := time.ParseInLocation(time.DateOnly, s, zone)
			if err != nil || !d.Before(end) {
				continue
			}
			out = append(out, AgendaItem{Record: r, At: d, Day: s, Overdue: d.Before(today)})
		}
	}
	slices.SortStableFunc(out, func(a, b AgendaItem) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.IsTask() != b.IsTask() {
			if a.IsTask() {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(Format(a.Record.Fields["title"]), Format(b.Record.Fields["title"])); c != 0 {
			return c
		}
		return cmp.Compare(a.Record.ID, b.Record.ID)
	})
	return out
}

// FormatDay shows a calendar day (YYYY-MM-DD) briefly, as FormatWhen shows
// an instant: "Tue 15 Dec", with the year when it is not now's year in
// zone. Anything else is returned as it is.
func FormatDay(day string, zone *time.Location, now time.Time) string {
	if zone == nil {
		zone = time.UTC
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	if d.Year() != now.In(zone).Year() {
		return d.Format("Mon 2 Jan 2006")
	}
	return d.Format("Mon 2 Jan")
}

// DaysLate is how many days before today (in zone) a due day is: 1 for
// yesterday, 0 for today or later or an unreadable day.
func DaysLate(day string, zone *time.Location, now time.Time) int {
	if zone == nil {
		zone = time.UTC
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0
	}
	l := now.In(zone)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	return max(0, int(today.Sub(d).Hours()/24))
}

// TimeTotal is the time worked, billable and not, in minutes.
type TimeTotal struct {
	Key         string  `json:"key"` // the day (YYYY-MM-DD, "" when none) or the matter id
	Entries     int     `json:"entries"`
	Billable    float64 `json:"billable_minutes"`
	NonBillable float64 `json:"non_billable_minutes"`
}

// Total is the billable and the non-billable time together.
func (t TimeTotal) Total() float64 { return t.Billable + t.NonBillable }

// Add counts one time entry in the total; an entry without minutes
// counts as an entry of none.
func (t *TimeTotal) Add(r Record) {
	t.Entries++
	m, _ := r.Fields[TimeMinutes].(float64)
	if b, _ := r.Fields[TimeBillable].(bool); b {
		t.Billable += m
	} else {
		t.NonBillable += m
	}
}

// TimeBy says how time totals are grouped.
type TimeBy string

// The groupings of time totals.
const (
	ByDay    TimeBy = "day"    // by the day worked on
	ByMatter TimeBy = "matter" // by matter
)

// TimeTotals sums live time entries by day worked on (days in order,
// entries without a day last) or by matter (most time first, then by id).
func TimeTotals(recs []Record, by TimeBy) []TimeTotal {
	idx := map[string]int{}
	var out []TimeTotal
	for _, r := range recs {
		if r.Deleted || r.Collection != TimeCollection {
			continue
		}
		key := r.MatterID()
		if by == ByDay {
			key, _ = r.Fields[TimeWorkedOn].(string)
		}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, TimeTotal{Key: key})
		}
		out[i].Add(r)
	}
	slices.SortFunc(out, func(a, b TimeTotal) int {
		if by == ByDay {
			if (a.Key == "") != (b.Key == "") {
				if a.Key == "" {
					return 1
				}
				return -1
			}
			return cmp.Compare(a.Key, b.Key)
		}
		if c := cmp.Compare(b.Total(), a.Total()); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}
