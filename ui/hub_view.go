package ui

import (
	"fmt"
	"strings"
	"time"

	"casefile/model"
)

// View draws the lines in sight.
func (p *hubPane) View() string {
	lines, _ := p.lines()
	from := clamp(p.top, 0, max(0, len(lines)-p.Height))
	return strings.Join(lines[from:min(len(lines), from+p.Height)], "\n")
}

// lines are the hub's lines and the line of the cursor's row.
func (p *hubPane) lines() ([]string, int) {
	lines, at := p.layout()
	if c := p.list.Cursor(); c < len(at) {
		return lines, at[c]
	}
	return lines, 0
}

// layout is the hub's lines and the line of each row the cursor stops on.
func (p *hubPane) layout() ([]string, []int) {
	s := p.Styles
	switch {
	case p.gone:
		return []string{s.Muted.Render(" This matter is no longer here: it was deleted or you no longer share it. Press " + p.Keys.Back.Help().Key + " to go back.")}, nil
	case p.err != nil:
		return []string{s.Error.Render(" The matter could not be read: " + p.err.Error())}, nil
	case !p.loaded:
		return []string{s.Muted.Render(" Loading…")}, nil
	}
	w := p.Width
	mcol, _ := p.Schema.Collection(model.MatterCollection)
	cursor := p.list.Cursor()
	at := make([]int, len(p.items))
	var lines []string
	// The matter itself, the first row.
	head := s.Title.Render("Matter · ") + s.Bold.Render(safeLine(p.matter.Title(mcol)))
	if cursor == 0 {
		lines = append(lines, joinRight(s.RowSelected.Render("▸ Matter · "+safeLine(p.matter.Title(mcol))), s.badge(p.matter.State)+" ", w))
	} else {
		lines = append(lines, joinRight("  "+head, s.badge(p.matter.State)+" ", w))
	}
	var facts []string
	for _, name := range []string{"client", "case_number", "court", "status"} {
		var f *model.Field
		if mcol != nil {
			f, _ = mcol.Field(name)
		}
		if v := oneLine(valueText(f, p.matter.Fields[name])); v != "" {
			facts = append(facts, v)
		}
	}
	if len(facts) > 0 {
		lines = append(lines, s.Muted.Render(truncate("  "+strings.Join(facts, " · "), w)))
	}
	var counts []string
	for _, sec := range p.sections {
		counts = append(counts, plural(sec.count, singular(sec.col), strings.ToLower(sec.col.Label)))
	}
	lines = append(lines, wrapPhrases(counts, " · ", max(10, w-2), "  ")...)
	lines = append(lines, "  "+p.timeLine())
	lines = append(lines, p.dayLines(w)...)
	item := 1
	for i, sec := range p.sections {
		lines = append(lines, s.Group.Render(fmt.Sprintf(" %s · %d", sec.col.Label, sec.count)))
		for ; item < len(p.items) && p.items[item].sec == i; item++ {
			at[item] = len(lines)
			lines = append(lines, p.itemLine(p.items[item], item == cursor, w))
		}
	}
	return lines, at
}

// timeLine is the matter's time worked, billable and not.
func (p *hubPane) timeLine() string {
	s := p.Styles
	t := p.time
	if t.Entries == 0 {
		return s.Muted.Render("Time: none recorded")
	}
	return s.Bold.Render("Time "+model.FormatMinutes(t.Total())) +
		s.Muted.Render(" · billable "+model.FormatMinutes(t.Billable)+" · not billable "+model.FormatMinutes(t.NonBillable))
}

// hubDayLines is how many lines the time per day may take in the hub.
const hubDayLines = 2

// dayLines are the matter's time per day worked on, the latest first:
// total, and the billable part when some is not billable.
func (p *hubPane) dayLines(w int) []string {
	if len(p.days) == 0 {
		return nil
	}
	var phrases []string
	for i := len(p.days) - 1; i >= 0; i-- {
		d := p.days[i]
		day := model.FormatDay(d.Key, p.Zone, p.Now())
		if d.Key == "" {
			day = "no day"
		}
		ph := day + " " + model.FormatMinutes(d.Total())
		switch {
		case d.Total() == 0:
		case d.NonBillable == 0:
			ph += " billable"
		case d.Billable == 0:
			ph += " not billable"
		default:
			ph += " (" + model.FormatMinutes(d.Billable) + " billable)"
		}
		phrases = append(phrases, ph)
	}
	// The undated total belongs last, after the latest days.
	if p.days[len(p.days)-1].Key == "" {
		phrases = append(phrases[1:], phrases[0])
	}
	lines := wrapPhrases(phrases, " · ", max(10, w-10), "  ")
	if len(lines) > hubDayLines {
		lines = lines[:hubDayLines]
		lines[hubDayLines-1] += " …"
	}
	lines[0] = "  By day: " + strings.TrimPrefix(lines[0], "  ")
	for i := 1; i < len(lines); i++ {
		lines[i] = "          " + strings.TrimPrefix(lines[i], "  ")
	}
	for i := range lines {
		lines[i] = p.Styles.Muted.Render(lines[i])
	}
	return lines
}

// Widths of the hub's columns after the title, in cells.
const (
	hubCol2 = whenWidth
	hubCol3 = 14
)

// itemLine draws one row: a record's title and two columns and its sync
// state, or a "more" or "add" row.
func (p *hubPane) itemLine(it hubItem, sel bool, w int) string {
	s := p.Styles
	mark := "  "
	if sel {
		mark = "▸ "
	}
	sec := p.sections[it.sec]
	var text string
	switch it.kind {
	case hubMore:
		text = mark + fmt.Sprintf("… %d more: open the list (%s)", sec.count-len(sec.recs), p.Keys.Open.Help().Key)
	case hubAdd:
		text = mark + fmt.Sprintf("+ add a %s (%s)", singular(sec.col), p.Keys.Open.Help().Key)
	}
	if text != "" {
		if sel {
			return s.RowSelected.Render(pad(text, w))
		}
		return s.Muted.Render(text)
	}
	r := it.rec
	tw := max(10, w-2-hubCol2-hubCol3-3-badgeWidth-1)
	c2, c3, late := p.cells(sec.col, r)
	line := mark + pad(oneLine(r.Title(sec.col)), tw) + " " + pad(c2, hubCol2) + " "
	if sel {
		return s.RowSelected.Render(pad(line+pad(c3, hubCol3)+"  "+stateSymbol[r.State]+" "+r.State.Label(), w))
	}
	third := s.Row.Render(pad(c3, hubCol3))
	if late {
		third = s.Error.Render(pad(c3, hubCol3))
	}
	return s.Row.Render(line) + third + "  " + s.badge(r.State)
}

// cells are a record's second and third columns in the hub: the
// collection's list columns after the title, a task's state in words
// (overdue flagged with "!"), time as a duration.
func (p *hubPane) cells(col *model.Collection, r model.Record) (c2, c3 string, late bool) {
	var out []string
	for _, name := range col.Columns[min(1, len(col.Columns)):] {
		f, _ := col.Field(name)
		out = append(out, oneLine(p.cell(f, r)))
	}
	for len(out) < 2 {
		out = append(out, "")
	}
	if col.Name == model.TaskCollection {
		out[1], late = p.taskState(r)
	}
	if col.Name == model.TimeCollection {
		if b, _ := r.Fields[model.TimeBillable].(bool); b {
			out[1] += " billable"
		}
	}
	return out[0], out[1], late
}

// cell is one value as the hub and the agenda show it: days and times
// short, in the person's zone.
func (p *hubPane) cell(f *model.Field, r model.Record) string {
	return p.Shared.cell(f, r.Fields[f.Name])
}

// taskState says where a task stands: done, overdue or to do.
func (p *hubPane) taskState(r model.Record) (string, bool) {
	if done, _ := r.Fields[model.TaskDone].(bool); done {
		return "✓ done", false
	}
	due, _ := r.Fields[model.TaskDue].(string)
	if due != "" && due < p.Now().In(p.Zone).Format(time.DateOnly) {
		return "! overdue", true
	}
	return "☐ to do", false
}

// cell shows a stored value briefly: a day as "Tue 15 Dec", an instant
// in the person's zone, minutes as a duration; not yet safe for the
// terminal.
func (s *Shared) cell(f *model.Field, v any) string {
	if f == nil {
		return model.Format(v)
	}
	if f.Type == model.TypeDate {
		if d, ok := v.(string); ok {
			return model.FormatDay(d, s.Zone, s.Now())
		}
	}
	return s.display(f, v)
}

// wrapPhrases joins phrases with sep into lines of at most w cells, each
// starting with indent, never breaking a phrase ("0 site visits").
func wrapPhrases(phrases []string, sep string, w int, indent string) []string {
	var lines []string
	line := ""
	for _, ph := range phrases {
		switch {
		case line == "":
			line = ph
		case len([]rune(line+sep+ph)) > w:
			lines = append(lines, indent+line)
			line = ph
		default:
			line += sep + ph
		}
	}
	if line != "" {
		lines = append(lines, indent+line)
	}
	return lines
}
