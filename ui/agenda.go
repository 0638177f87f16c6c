package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"casefile/localdb"
	"casefile/model"
)

// Agenda sizes.
const (
	// agendaDays is how far past today the agenda looks at first: a week
	// is what people plan in.
	agendaDays = 7
	// maxAgendaDays bounds how far it may look: a year.
	maxAgendaDays = 366
)

// agendaMsg answers loadAgenda.
type agendaMsg struct {
	id    int
	items []model.AgendaItem
	err   error
}

// loadAgenda reads every hearing and task and keeps what is coming in
// the next days, in time order (model.Agenda).
func loadAgenda(db *localdb.DB, now time.Time, zone *time.Location, days, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		var recs []model.Record
		for _, c := range []string{model.HearingCollection, model.TaskCollection} {
			// Every one: a task due tomorrow may be the oldest record.
			all, err := readAll(ctx, db, localdb.ListQuery{Collection: c}, math.MaxInt)
			if err != nil {
				return agendaMsg{id: id, err: err}
			}
			recs = append(recs, all...)
		}
		return agendaMsg{id: id, items: model.Agenda(recs, now, zone, days)}
	}
}

// agendaPane lists upcoming hearings and tasks due or overdue across
// every matter, in time order; overdue tasks say so with "!" and a word.
type agendaPane struct {
	Common
	days   int
	items  []model.AgendaItem
	list   scroller
	loaded bool
	err    error
	reqID  int
	// While a read runs, changes only ask for one more after it (see
	// hubPane): reads never pile up.
	reading, again bool
	// typeAhead keeps a key pressed before the agenda was first read.
	typeAhead
}

func newAgendaPane(sh *Shared) *agendaPane {
	return &agendaPane{Common: Common{Shared: sh}, days: agendaDays, list: newScroller(sh.Keys)}
}

// Init reads the agenda.
func (p *agendaPane) Init() tea.Cmd { return p.refresh() }

func (p *agendaPane) refresh() tea.Cmd {
	if p.reading {
		p.again = true
		return nil
	}
	return p.load()
}

// load starts a read now; an answer to an earlier one is dropped.
func (p *agendaPane) load() tea.Cmd {
	p.reading, p.again = true, false
	p.reqID = p.newID()
	return loadAgenda(p.DB, p.Now(), p.Zone, p.days, p.reqID)
}

// SetSize sizes the pane: a title and a column header above the rows.
func (p *agendaPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(max(1, h-2))
}

// selected is the hearing or task under the cursor.
func (p *agendaPane) selected() (model.Record, bool) {
	if !p.loaded || p.list.Len() == 0 {
		return model.Record{}, false
	}
	return p.items[p.list.Cursor()].Record, true
}

// Update takes the agenda's answer, scrolls, widens or narrows the days
// shown and opens the record under the cursor.
func (p *agendaPane) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	switch msg := msg.(type) {
	case agendaMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.reading = false
		p.err = msg.err
		if msg.err == nil {
			keep, had := p.selected()
			p.items, p.loaded = msg.items, true
			p.list.SetLen(len(p.items))
			for i, it := range p.items {
				if had && it.Record.ID == keep.ID {
					p.list.Select(i)
				}
			}
		}
		p.release(p.Shared)
		if p.again {
			return p.refresh()
		}
		return nil
	case tea.MouseWheelMsg:
		p.list.Update(msg)
	case tea.MouseClickMsg:
		// Below the title and the column header: a click selects a row,
		// a click on the selected row opens it.
		i := p.list.Top() + msg.Y - 2
		if from, to := p.list.Visible(); msg.Y < 2 || i < from || i >= to {
			return nil
		}
		if i == p.list.Cursor() {
			return p.Update(p.openKey())
		}
		p.list.Select(i)
	case tea.KeyPressMsg:
		if !p.loaded && p.reading && firstReadKey(k, &p.list, msg) {
			p.keep(msg)
			return nil
		}
		if p.list.Update(msg) {
			return nil
		}
		switch {
		case key.Matches(msg, k.MoreDays):
			p.days = min(maxAgendaDays, p.days+agendaDays)
			return p.load()
		case key.Matches(msg, k.FewerDays):
			p.days = max(0, p.days-agendaDays)
			return p.load()
		case key.Matches(msg, k.Open):
			if rec, ok := p.selected(); ok {
				p.send(openDetailMsg{id: rec.ID})
			}
		case key.Matches(msg, k.Edit):
			if rec, ok := p.selected(); ok {
				p.send(editMsg{collection: rec.Collection, rec: &rec})
			}
		}
	}
	return nil
}

// span says which days the agenda shows.
func (p *agendaPane) span() string {
	switch p.days {
	case 0:
		return "today"
	case 1:
		return "today and tomorrow"
	}
	return fmt.Sprintf("today and the next %d days", p.days)
}

// Widths of the agenda's columns, in cells.
const (
	agendaWhat   = 7
	agendaNote   = 16
	agendaMatter = 18
)

// View draws the title, the column header and the items in sight.
func (p *agendaPane) View() string {
	s := p.Styles
	w := p.Width
	late := 0
	for _, it := range p.items {
		if it.Overdue {
			late++
		}
	}
	right := ""
	if p.loaded {
		right = plural(len(p.items), "item", "items")
		if late > 0 {
			right += " · ! " + plural(late, "overdue", "overdue")
		}
	}
	lines := []string{joinRight(s.Title.Render(" Agenda")+s.Muted.Render(" · "+p.span()), s.Muted.Render(right)+" ", w)}
	tw := max(8, w-2-whenWidth-agendaWhat-agendaMatter-agendaNote-4)
	lines = append(lines, s.ColHeader.Render("  "+pad("WHEN", whenWidth)+" "+pad("WHAT", agendaWhat)+" "+pad("TITLE", tw)+" "+pad("MATTER", agendaMatter)+" NOTE"))
	switch {
	case p.err != nil:
		lines = append(lines, s.Error.Render(" The agenda could not be read: "+p.err.Error()))
	case !p.loaded:
		lines = append(lines, s.Muted.Render(" Loading…"))
	case len(p.items) == 0:
		lines = append(lines, s.Muted.Render(fmt.Sprintf(" Nothing due and no hearings %s. Press %s to look further ahead.", p.span(), p.Keys.MoreDays.Help().Key)))
	}
	from, to := p.list.Visible()
	for i := from; p.loaded && i < to; i++ {
		lines = append(lines, p.row(p.items[i], i == p.list.Cursor(), tw, w))
	}
	return strings.Join(lines, "\n")
}

// row draws one item: when, what, title, matter and a note (overdue, due
// today, or the hearing's court).
func (p *agendaPane) row(it model.AgendaItem, sel bool, tw, w int) string {
	s := p.Styles
	r := it.Record
	now := p.Now()
	col, _ := p.Schema.Collection(r.Collection)
	when := model.FormatWhen(it.At, p.Zone, now)
	var note string
	if it.IsTask() {
		when = model.FormatDay(it.Day, p.Zone, now)
		switch {
		case it.Overdue:
			note = "! overdue " + plural(model.DaysLate(it.Day, p.Zone, now), "day", "days")
		case it.Day == now.In(p.Zone).Format(time.DateOnly):
			note = "due today"
		default:
			note = "due"
		}
	} else {
		var parts []string
		for _, f := range []string{"court", "room"} {
			if v := model.Format(r.Fields[f]); v != "" {
				parts = append(parts, v)
			}
		}
		note = strings.Join(parts, ", ")
	}
	mark := "  "
	if sel {
		mark = "▸ "
	}
	title := r.ID
	if col != nil {
		title = r.Title(col)
	}
	line := mark + pad(when, whenWidth) + " " + pad(singular(col), agendaWhat) + " " + pad(oneLine(title), tw) + " " +
		pad(p.matterTitle(r.MatterID()), agendaMatter) + " "
	if sel {
		return s.RowSelected.Render(pad(line+oneLine(note), w))
	}
	ns := s.Muted
	if it.Overdue {
		ns = s.Error
	}
	return s.Row.Render(line) + ns.Render(truncate(oneLine(note), max(0, w-lipgloss.Width(line))))
}

// ShortHelp lists the agenda's keys.
func (p *agendaPane) ShortHelp() []key.Binding {
	k := p.Keys
	return []key.Binding{k.Open, k.MarkDone, k.MoreDays, k.FewerDays}
}

// FullHelp lists every key of the agenda.
func (p *agendaPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{p.list.Bindings(), {k.Open, k.Edit, k.MarkDone, k.MoreDays, k.FewerDays}}
}
