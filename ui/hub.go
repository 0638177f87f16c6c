package ui

import (
	"errors"

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
	// typeAhead keeps a key pressed before the matter was first read.
	typeAhead
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
		p.release(p.Shared)
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
		if !p.loaded && p.reading && firstReadKey(k, &p.list, msg) {
			p.keep(msg)
			return nil
		}
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
