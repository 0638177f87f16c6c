package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"casefile/localdb"
	"casefile/model"
)

// agendaCommands are the commands of this file, for the command table.
func agendaCommands() []Command {
	return []Command{
		{
			Name:    "agenda",
			Usage:   "[--days N] [--json]",
			Summary: "Upcoming hearings and due or overdue tasks of every matter, in time order",
			Run:     runAgenda,
		},
		{
			Name:    "time",
			Usage:   "[--matter ID] [--by day|matter] [--json]",
			Summary: "Time worked, billable and not, per matter or per day",
			Run:     runTime,
		},
	}
}

// defaultAgendaDays is how far ahead the agenda looks unless told: a week
// is what people plan in.
const defaultAgendaDays = 7

// maxAgendaDays bounds --days: ten years ahead is already everything.
const maxAgendaDays = 3660

// agendaLine is one agenda item as --json prints it.
type agendaLine struct {
	Kind     string       `json:"kind"` // hearing or task
	ID       string       `json:"id"`
	Title    string       `json:"title"`
	MatterID string       `json:"matter_id"`
	Matter   string       `json:"matter"` // the matter's title
	At       time.Time    `json:"at"`     // a hearing's start; a task's due day, its first instant in the person's zone
	Day      string       `json:"due_on,omitempty"`
	Overdue  bool         `json:"overdue"`
	Record   model.Record `json:"record"`
}

func runAgenda(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	days := fs.Int("days", defaultAgendaDays, "look this many days past today (0: today only)")
	asJSON := fs.Bool("json", false, "print a JSON array of items")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("agenda takes no arguments, only flags")
	}
	if *days < 0 || *days > maxAgendaDays {
		return fmt.Errorf("--days must be between 0 and %d, not %d", maxAgendaDays, *days)
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	zone, err := cfg.Zone()
	if err != nil {
		return err
	}
	now := time.Now()
	var recs []model.Record
	for _, c := range []string{model.HearingCollection, model.TaskCollection} {
		if err := eachRecord(ctx, env, db, c, func(r model.Record) error { recs = append(recs, r); return nil }); err != nil {
			return err
		}
	}
	items := model.Agenda(recs, now, zone, *days)
	titles, err := matterTitles(ctx, env, db)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]agendaLine, len(items))
		for i, it := range items {
			m := it.Record.MatterID()
			out[i] = agendaLine{Kind: it.Record.Collection, ID: it.Record.ID, Title: model.Format(it.Record.Fields["title"]),
				MatterID: m, Matter: titles[m], At: it.At, Day: it.Day, Overdue: it.Overdue, Record: it.Record}
		}
		return printJSON(env.Stdout, out)
	}
	if len(items) == 0 {
		_, err := fmt.Fprintf(env.Stdout, "Nothing due and no hearings %s.\n", agendaSpan(*days))
		return err
	}
	t := newTable(env.Stdout, "WHEN", "WHAT", "TITLE", "MATTER", "NOTE")
	late := 0
	for _, it := range items {
		r := it.Record
		when, note := model.FormatWhen(it.At, zone, now), ""
		if it.IsTask() {
			when = model.FormatDay(it.Day, zone, now)
			switch {
			case it.Overdue:
				late++
				note = "! overdue " + plural(model.DaysLate(it.Day, zone, now), "day")
			case it.Day == now.In(zone).Format(time.DateOnly):
				note = "due today"
			default:
				note = "due"
			}
		} else {
			note = joinNonEmpty(", ", model.Format(r.Fields["court"]), model.Format(r.Fields["room"]))
		}
		t.row(when, r.Collection, model.Format(r.Fields["title"]), titles[r.MatterID()], note)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if late > 0 {
		_, err = fmt.Fprintf(env.Stdout, "\n! %s overdue.\n", pluralOf(late, "task is", "tasks are"))
	}
	return err
}

// agendaSpan says which days the agenda covers.
func agendaSpan(days int) string {
	switch days {
	case 0:
		return "today"
	case 1:
		return "today or tomorrow"
	}
	return fmt.Sprintf("today or in the next %d days", days)
}

// matterTitles reads every matter's title by id.
func matterTitles(ctx context.Context, env *Env, db *localdb.DB) (map[string]string, error) {
	col, err := collection(model.MatterCollection)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	err = eachRecord(ctx, env, db, model.MatterCollection, func(r model.Record) error {
		out[r.ID] = r.Title(col)
		return nil
	})
	return out, err
}

func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}

// pluralOf says "1 task is", "3 tasks are".
func pluralOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// timeTotalLine is one row of `casefile time --json`.
type timeTotalLine struct {
	Matter             string  `json:"matter,omitempty"` // by matter: its title
	Day                *string `json:"day,omitempty"`    // by day: YYYY-MM-DD, "" for entries without one
	MatterID           string  `json:"matter_id,omitempty"`
	Entries            int     `json:"entries"`
	BillableMinutes    float64 `json:"billable_minutes"`
	NonBillableMinutes float64 `json:"non_billable_minutes"`
	TotalMinutes       float64 `json:"total_minutes"`
}

func runTime(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	matter := fs.String("matter", "", "only the time of this matter: its title, the start of its title, or its id")
	by := fs.String("by", "", "group by day or by matter (default: matter; day with --matter)")
	asJSON := fs.Bool("json", false, "print the totals as JSON")
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("time takes no arguments, only flags")
	}
	group := model.ByMatter
	if *matter != "" {
		group = model.ByDay
	}
	switch *by {
	case "":
	case string(model.ByDay), string(model.ByMatter):
		group = model.TimeBy(*by)
	default:
		return usageError("--by is day or matter, not %q", *by)
	}
	db, cfg, err := openLocal(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if *matter != "" {
		if *matter, err = resolveMatter(ctx, db, *matter); err != nil {
			return fmt.Errorf("--matter: %w", err)
		}
	}
	zone, err := cfg.Zone()
	if err != nil {
		return err
	}
	var recs []model.Record
	q := localdb.ListQuery{Collection: model.TimeCollection, MatterID: *matter}
	if err := eachListed(ctx, env, db, q, func(r model.Record) error { recs = append(recs, r); return nil }); err != nil {
		return err
	}
	rows := model.TimeTotals(recs, group)
	var sum model.TimeTotal
	for _, r := range recs {
		sum.Add(r)
	}
	titles, err := matterTitles(ctx, env, db)
	if err != nil {
		return err
	}
	if *matter != "" {
		if _, ok := titles[*matter]; !ok {
			return fmt.Errorf("--matter: no matter with id %s on this device (casefile list matter shows them)", *matter)
		}
	}
	line := func(t model.TimeTotal) timeTotalLine {
		l := timeTotalLine{Entries: t.Entries, BillableMinutes: t.Billable, NonBillableMinutes: t.NonBillable, TotalMinutes: t.Total()}
		if group == model.ByDay {
			day := t.Key
			l.Day = &day
		} else {
			l.MatterID, l.Matter = t.Key, titles[t.Key]
		}
		return l
	}
	if *asJSON {
		out := struct {
			By       model.TimeBy    `json:"by"`
			MatterID string          `json:"matter_id,omitempty"`
			Rows     []timeTotalLine `json:"rows"`
			Total    timeTotalLine   `json:"total"`
		}{By: group, MatterID: *matter, Rows: []timeTotalLine{}}
		for _, t := range rows {
			out.Rows = append(out.Rows, line(t))
		}
		out.Total = timeTotalLine{Entries: sum.Entries, BillableMinutes: sum.Billable, NonBillableMinutes: sum.NonBillable, TotalMinutes: sum.Total()}
		return printJSON(env.Stdout, out)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "No time entries.")
		return err
	}
	first := "MATTER"
	if group == model.ByDay {
		first = "DAY"
	}
	t := newTable(env.Stdout, first, "ENTRIES", "BILLABLE", "NOT BILLABLE", "TOTAL")
	now := time.Now()
	for _, r := range rows {
		name := titles[r.Key]
		if group == model.ByDay {
			name = model.FormatDay(r.Key, zone, now)
			if r.Key == "" {
				name = "(no day)"
			}
		} else if name == "" {
			name = r.Key
		}
		t.row(name, fmt.Sprint(r.Entries), model.FormatMinutes(r.Billable), model.FormatMinutes(r.NonBillable), model.FormatMinutes(r.Total()))
	}
	t.row("TOTAL", fmt.Sprint(sum.Entries), model.FormatMinutes(sum.Billable), model.FormatMinutes(sum.NonBillable), model.FormatMinutes(sum.Total()))
	return t.flush()
}
