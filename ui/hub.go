package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// Messages of the matter hub to the app.
type (
	// openDetailMsg asks for a record's detail, even a matter's (an
	// openRecordMsg for a matter opens its hub).
	openDetailMsg struct{ id string }
	// showRecordsMsg asks for the records screen listing one collection
	// of one matter.
	showRecordsMsg struct {
		collection string
		matterID   string
	}
)

// hubItemKind is what a row of the hub under the cursor is.
type hubItemKind int

const (
	hubMatter hubItemKind = iota // the matter itself
	hubRecord                    // a record it holds
	hubMore                      // the rest of a collection, on the records screen
	hubAdd                       // a new record of an empty collection
)

// hubItem is one row the cursor stops on.
type hubItem struct {
	kind hubItemKind
	sec  int // the section (collection) it belongs to; -1 for the matter
	rec  model.Record
}

// hubPane is the matter as the hub: the matter, how many records of each
// collection it holds and the time worked on it, then the first records
// of each collection, any of which opens.
type hubPane struct {
	Common
	id       string
	matter   model.Record
	sections []hubSection
	time     model.TimeTotal
	days     []model.TimeTotal
	loaded   bool
	gone     bool
	err      error
	reqID    int
	// A read of a big matter takes a while: while one runs, changes only
	// ask for one more after it, so reads never pile up under a syncer
	// that writes all the time.
	reading, again bool

	items []hubItem
	list  scroller // over items
	top   int      // first line in sight
}

func newHubPane(sh *Shared, matterID string) *hubPane {
	return &hubPane{Common: Common{Shared: sh}, id: matterID, list: newScroller(sh.Keys)}
}

// Init reads the matter and what it holds.
func (p *hubPane) Init() tea.Cmd { return p.refresh() }

func (p *hubPane) refresh() tea.Cmd {
	if p.reading {
		p.again = true
		return nil
	}
	p.reading, p.again = true, false
	p.reqID = p.newID()
	return loadHub(p.DB, hubCollections(p.Schema), p.id, p.Now(), p.Zone, p.reqID)
}

// SetSize sizes the pane and keeps the cursor in sight.
func (p *hubPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(h)
	p.follow()
}

// selected is the record under the cursor: the matter or one it holds.
func (p *hubPane) selected() (model.Record, bool) {
	if !p.loaded || p.list.Len() == 0 {
		return model.Record{}, false
	}
	it := p.items[p.list.Cursor()]
	switch it.kind {
	case hubMatter:
		return p.matter, true
	case hubRecord:
		return it.rec, true
	}
	return model.Record{}, false
}

// Update takes the hub's answer, moves the cursor and turns keys into
// open, edit, new and delete requests.
func (p *hubPane) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	switch msg := msg.(type) {
	case hubMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.reading = false
		p.err = msg.err
		p.gone = errors.Is(msg.err, localdb.ErrNotFound) || (msg.err == nil && msg.matter.Deleted)
		if msg.err == nil {
			p.matter, p.sections, p.time, p.days, p.loaded = msg.matter, msg.sections, msg.time, msg.days, true
			p.buildItems()
		}
		if p.again {
			return p.refresh()
		}
		return nil
	case tea.MouseWheelMsg:
		if p.list.Update(msg) {
			p.follow()
		}
		return nil
	case tea.MouseClickMsg:
		return p.click(msg)
	case tea.KeyPressMsg:
		if p.list.Update(msg) {
			p.follow()
			return nil
		}
		if !p.loaded || p.gone || p.list.Len() == 0 {
			return nil
		}
		it := p.items[p.list.Cursor()]
		switch {
		case key.Matches(msg, k.Open):
			return p.open(it)
		case key.Matches(msg, k.New):
			if it.sec >= 0 {
				p.send(editMsg{collection: p.sections[it.sec].col.Name, matterID: p.id})
			}
		case key.Matches(msg, k.Edit):
			if rec, ok := p.selected(); ok {
				p.send(editMsg{collection: rec.Collection, rec: &rec})
			}
		case key.Matches(msg, k.Delete):
			if rec, ok := p.selected(); ok {
				return askDelete(p.Shared, rec)
			}
		}
	}
	return nil
}

// click selects the row clicked; a click on the selected row opens it.
func (p *hubPane) click(msg tea.MouseClickMsg) tea.Cmd {
	_, at := p.layout()
	line := p.top + msg.Y
	for i, l := range at {
		if l != line || msg.Y >= p.Height {
			continue
		}
		if i == p.list.Cursor() {
			return p.Update(p.openKey())
		}
		p.list.Select(i)
		p.follow()
	}
	return nil
}

// open acts on the row under the cursor.
func (p *hubPane) open(it hubItem) tea.Cmd {
	switch it.kind {
	case hubMatter:
		p.send(openDetailMsg{id: p.id})
	case hubRecord:
		p.send(openDetailMsg{id: it.rec.ID})
	case hubMore:
		p.send(showRecordsMsg{collection: p.sections[it.sec].col.Name, matterID: p.id})
	case hubAdd:
		p.send(editMsg{collection: p.sections[it.sec].col.Name, matterID: p.id})
	}
	return nil
}

// buildItems lists the rows the cursor stops on, keeping it on the same
// record when it is still there.
func (p *hubPane) buildItems() {
	var keep string
	if rec, ok := p.selected(); ok && p.list.Len() > 0 {
		keep = rec.ID
	}
	at := p.list.Cursor()
	p.items = []hubItem{{kind: hubMatter, sec: -1}}
	for i, sec := range p.sections {
		for _, r := range sec.recs {
			p.items = append(p.items, hubItem{kind: hubRecord, sec: i, rec: r})
		}
		switch {
		case sec.count == 0:
			p.items = append(p.items, hubItem{kind: hubAdd, sec: i})
		case sec.count > len(sec.recs):
			p.items = append(p.items, hubItem{kind: hubMore, sec: i})
		}
	}
	p.list.SetLen(len(p.items))
	for i, it := range p.items {
		if keep != "" && ((it.kind == hubRecord && it.rec.ID == keep) || (it.kind == hubMatter && keep == p.id)) {
			at = i
			break
		}
	}
	p.list.Select(at)
	p.follow()
}

// follow scrolls the lines so the cursor's row is in sight, with its
// section's heading when that fits.
func (p *hubPane) follow() {
	lines, at := p.lines()
	if len(lines) == 0 {
		p.top = 0
		return
	}
	want := at
	if want > 0 && p.list.Cursor() > 0 && p.items[p.list.Cursor()-1].sec != p.items[p.list.Cursor()].sec {
		want-- // the section heading above its first row
	}
	p.top = scrollInto(p.top, want, p.Height)
	if at >= p.top+p.Height {
		p.top = at - p.Height + 1
	}
	p.top = clamp(p.top, 0, max(0, len(lines)-p.Height))
}

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
	for _, f := range []string{"client", "case_number", "court", "status"} {
		if v := oneLine(model.Format(p.matter.Fields[f])); v != "" {
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

// ShortHelp lists the hub's keys.
func (p *hubPane) ShortHelp() []key.Binding {
	k := p.Keys
	return []key.Binding{k.Back, k.Open, k.New, k.Edit, k.MarkDone}
}

// FullHelp lists every key of the hub.
func (p *hubPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{p.list.Bindings(), {k.Back, k.Open, k.New, k.Edit, k.Delete, k.MarkDone}}
}

// isMatter reports whether id is a matter the app knows.
func (m *Model) isMatter(id string) bool {
	for _, r := range m.sh.Matters {
		if r.ID == id {
			return true
		}
	}
	return false
}

// openHub opens a matter as the hub, on the records screen.
func (m *Model) openHub(id string) tea.Cmd {
	m.screen = screenRecords
	m.detail = nil
	m.hub = newHubPane(m.sh, id)
	m.layout()
	return m.hub.Init()
}

// openDetail opens a record's detail on the records screen, over the hub
// when one is open.
func (m *Model) openDetail(id string) tea.Cmd {
	m.screen = screenRecords
	m.detail = newDetailPane(m.sh, id)
	m.layout()
	return m.detail.Init()
}

// back closes the detail (showing the hub again when it was opened from
// there) or the hub.
func (m *Model) back() tea.Cmd {
	if m.detail != nil {
		m.detail = nil
		if m.hub != nil {
			return m.hub.refresh()
		}
		return m.records.reload(true)
	}
	m.hub = nil
	return m.records.reload(true)
}

// showRecords shows the records screen listing one collection of one
// matter: the hub's "more" rows.
func (m *Model) showRecords(msg showRecordsMsg) tea.Cmd {
	r := m.records
	for i, c := range r.cols {
		if c.Name == msg.collection {
			r.sel = i
		}
	}
	r.matterID, r.matterTitle = msg.matterID, m.sh.matterTitle(msg.matterID)
	m.screen, m.detail, m.hub = screenRecords, nil, nil
	return r.resetList()
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
