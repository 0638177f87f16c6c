package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// searchDelay is how long typing must pause before a search runs.
const searchDelay = 150 * time.Millisecond

// The collections column, in cells: full width on a terminal of 80 cells
// or more, narrower below, and hidden under 60, where the list needs every
// cell (the title still names the collection, ←/→ still change it).
const (
	sidebarWidth       = 20
	sidebarNarrowWidth = 13
	sidebarFullFrom    = 80
	sidebarHiddenBelow = 60
)

// sidebarW is the width of the collections column at the pane's width
// (0: hidden).
func (p *recordsPane) sidebarW() int {
	switch {
	case p.Width >= sidebarFullFrom:
		return sidebarWidth
	case p.Width >= sidebarHiddenBelow:
		return sidebarNarrowWidth
	}
	return 0
}

// listX is the first cell of the list, right of the sidebar and its rule.
func (p *recordsPane) listX() int {
	if sw := p.sidebarW(); sw > 0 {
		return sw + 1
	}
	return 0
}

// Messages the records pane sends to the app.
type (
	// openRecordMsg asks for a record's detail, or a matter's hub;
	// collection, when the sender knows it, says which.
	openRecordMsg struct{ id, collection string }
	// editMsg asks for the editor: rec nil means a new record of collection.
	editMsg struct {
		collection string
		matterID   string
		rec        *model.Record
	}
	// askMsg asks the person to confirm; yes, the command then runs and
	// then is handled at once.
	askMsg struct {
		question string
		yes      tea.Cmd
		then     tea.Msg
	}
	// searchTickMsg fires when typing paused; seq names the keystroke.
	searchTickMsg struct{ seq int }
)

// recordsPane is the main screen: collections with counts on the left, the
// selected collection's records on the right, windowed so that only the
// rows on screen (and a page either side) are ever read.
type recordsPane struct {
	Common
	cols   []*model.Collection
	counts map[string]int
	sel    int

	matterID    string
	matterTitle string
	picker      *picker

	// sorts is each collection's order the person chose (sort.go).
	sorts map[string]sortState
	// titles are the matters' titles for the matter column, built from
	// the titlesFrom'th read of the matters; titlesGen counts the times
	// they changed (drawn rows show them).
	titles     map[string]string
	titlesFrom int
	titlesGen  int

	rows      map[rowKey]string // drawn rows, for the current styles
	rowStyles *Styles

	search    lineInput
	searching bool
	text      string
	searchSeq int

	// list holds the cursor over every record of the query (total), not
	// only the window read.
	list   scroller
	win    []model.Record
	winOff int
	// The window being read, so scrolling does not ask twice.
	wantOff, wantLen int
	reqID            int
	countsID         int
	loaded           bool
	err              error
	// typeAhead keeps a key pressed before the rows it acts on were read
	// (deferKey) until they are.
	typeAhead
}

func newRecordsPane(sh *Shared) *recordsPane {
	p := &recordsPane{Common: Common{Shared: sh}, cols: sh.Schema.Listed(), counts: map[string]int{}, list: newScroller(sh.Keys)}
	p.search = newLineInput(sh.Styles, "/ ", "search all text fields", "")
	return p
}

// Init reads the first window.
func (p *recordsPane) Init() tea.Cmd { return p.reload(true) }

func (p *recordsPane) collection() *model.Collection { return p.cols[p.sel] }

// Capturing reports whether typed letters belong to the pane (search or
// picker), so the app must not treat them as commands.
func (p *recordsPane) Capturing() bool { return p.searching || p.picker != nil }

// listRows is how many record rows fit.
func (p *recordsPane) listRows() int {
	h := p.Height - 2 // title line, column header
	if p.searching || p.text != "" {
		h--
	}
	return max(1, h)
}

// SetSize sizes the pane, its list and its picker.
func (p *recordsPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(p.listRows())
	if p.picker != nil {
		p.picker.SetSize(w, h)
	}
}

// setSearching opens or closes the search line, which takes a row.
func (p *recordsPane) setSearching(on bool) {
	p.searching = on
	p.list.SetRows(p.listRows())
}

// setText sets the search text, which keeps its line while set.
func (p *recordsPane) setText(t string) {
	p.text = t
	p.list.SetRows(p.listRows())
}

func (p *recordsPane) query() localdb.ListQuery {
	s := p.sortOf(p.collection())
	return localdb.ListQuery{Collection: p.collection().Name, MatterID: p.matterID, Text: p.text, SortField: s.field, SortDesc: s.desc}
}

// refresh reads the collection counts and the list again: the data changed.
func (p *recordsPane) refresh() tea.Cmd {
	return tea.Batch(p.reloadCounts(), p.reload(true))
}

// reload reads the window around the visible rows again; withTotal also
// recounts (filters or data changed).
func (p *recordsPane) reload(withTotal bool) tea.Cmd {
	page := max(20, p.listRows())
	q := p.query()
	q.Offset = max(0, p.list.Top()-page)
	q.Limit = page * 3
	p.reqID = p.newID()
	p.wantOff, p.wantLen = q.Offset, q.Limit
	return loadWindow(p.DB, q, withTotal, p.reqID)
}

// covers reports whether rows [from, from+n) are in the loaded window or
// the one being read.
func (p *recordsPane) covers(from, n int) bool {
	end := min(from+n, p.list.Len())
	in := func(off, l int) bool { return from >= off && end <= off+l }
	return in(p.winOff, len(p.win)) || (p.wantLen > 0 && in(p.wantOff, p.wantLen))
}

// reading reports whether row i is in the window being read.
func (p *recordsPane) reading(i int) bool {
	return p.wantLen > 0 && i >= p.wantOff && i < p.wantOff+p.wantLen
}

// deferKey keeps a key that the rows being read decide, and reports
// whether it did: a key for the row under the cursor while that row is
// being read, and a move while the list's length is, after a reset (it
// would count the rows of the list before). A collection switch or a
// search is never kept: flipping through collections does not wait for
// each one's rows.
func (p *recordsPane) deferKey(msg tea.KeyPressMsg) bool {
	k := p.Keys
	if !p.reading(p.list.Cursor()) {
		return false
	}
	switch {
	case !p.loaded && key.Matches(msg, p.list.Bindings()...):
	case key.Matches(msg, k.Open, k.Edit, k.Delete, k.MarkDone):
		if _, ok := p.selected(); ok {
			return false
		}
	default:
		return false
	}
	p.keep(msg)
	return true
}

// selected returns the record under the cursor, if loaded.
func (p *recordsPane) selected() (model.Record, bool) {
	i := p.list.Cursor() - p.winOff
	if i < 0 || i >= len(p.win) || p.list.Len() == 0 {
		return model.Record{}, false
	}
	return p.win[i], true
}

// fill reads the window again when the rows in sight are not loaded.
func (p *recordsPane) fill() tea.Cmd {
	if !p.covers(p.list.Top(), p.listRows()) {
		return p.reload(false)
	}
	return nil
}

func (p *recordsPane) switchCollection(d int) tea.Cmd {
	p.sel = (p.sel + d + len(p.cols)) % len(p.cols)
	return p.resetList()
}

// resetList starts the list from its first row after a filter changed.
func (p *recordsPane) resetList() tea.Cmd {
	p.list.Reset()
	p.win, p.winOff, p.loaded = nil, 0, false
	return tea.Batch(p.reloadCounts(), p.reload(true))
}

// Update handles keys, the window answers and the search debounce.
func (p *recordsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case windowMsg:
		if msg.id != p.reqID {
			return nil // an older query; a newer one is on its way
		}
		p.wantLen = 0
		p.err = msg.err
		var cmd tea.Cmd
		if msg.err == nil {
			p.win, p.winOff, p.loaded = msg.recs, msg.offset, true
			if msg.hasTotal {
				p.list.SetLen(msg.total)
			}
			cmd = p.fill()
		}
		p.release(p.Shared)
		return cmd
	case countsMsg:
		if msg.id != p.countsID {
			return nil
		}
		if msg.err == nil {
			p.counts = msg.counts
		}
		return nil
	case searchTickMsg:
		if msg.seq != p.searchSeq {
			return nil // more typing came after this tick
		}
		p.setText(strings.TrimSpace(p.search.Value()))
		return p.resetList()
	case matterPickedMsg:
		p.picker = nil
		if !msg.ok {
			return nil
		}
		p.matterID, p.matterTitle = msg.item.ID, msg.item.Title
		return p.resetList()
	case tea.MouseWheelMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		if p.list.Update(msg) {
			return p.fill()
		}
		return nil
	case tea.MouseClickMsg:
		if p.picker != nil {
			return nil
		}
		return p.click(msg)
	case tea.PasteMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		if p.searching {
			p.search.Update(msg)
			return p.searchChanged()
		}
	case tea.KeyPressMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		if p.searching {
			return p.searchKey(msg)
		}
		return p.key(msg)
	}
	return nil
}

func (p *recordsPane) searchChanged() tea.Cmd {
	p.searchSeq++
	seq := p.searchSeq
	return p.Tick(searchDelay, func(time.Time) tea.Msg { return searchTickMsg{seq: seq} })
}

func (p *recordsPane) searchKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	switch {
	case key.Matches(msg, k.Back):
		p.setSearching(false)
		p.search.Blur()
		p.search.SetValue("")
		p.searchSeq++
		if p.text == "" {
			return nil
		}
		p.setText("")
		return p.resetList()
	case key.Matches(msg, k.Open):
		p.setSearching(false)
		p.search.Blur()
		p.searchSeq++
		if t := strings.TrimSpace(p.search.Value()); t != p.text {
			p.setText(t)
			return p.resetList()
		}
		return nil
	case key.Matches(msg, k.ListUp):
		p.list.Move(-1)
		return p.fill()
	case key.Matches(msg, k.ListDown):
		p.list.Move(1)
		return p.fill()
	}
	if p.search.Update(msg) {
		return p.searchChanged()
	}
	return nil
}

func (p *recordsPane) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	if p.deferKey(msg) {
		return nil
	}
	if p.list.Update(msg) {
		return p.fill()
	}
	switch {
	case key.Matches(msg, k.PrevColl):
		return p.switchCollection(-1)
	case key.Matches(msg, k.NextColl):
		return p.switchCollection(1)
	case key.Matches(msg, k.Search):
		p.setSearching(true)
		p.search.SetValue(p.text)
		p.search.Focus()
		return nil
	case key.Matches(msg, k.Matter):
		items := []pickItem{{ID: "", Title: "All matters"}}
		for _, m := range p.Matters {
			items = append(items, pickItem{ID: m.ID, Title: safeLine(m.Title(p.matterCollection()))})
		}
		p.picker = newPicker(p.Shared, "Show the records of one matter", items, func(it pickItem, ok bool) tea.Msg {
			return matterPickedMsg{item: it, ok: ok}
		})
		p.picker.SetSize(p.Width, p.Height)
		return nil
	case key.Matches(msg, k.ClearFilter):
		if p.text == "" && p.matterID == "" {
			return nil
		}
		p.matterID, p.matterTitle = "", ""
		p.setText("")
		p.search.SetValue("")
		return p.resetList()
	case key.Matches(msg, k.Open):
		if rec, ok := p.selected(); ok {
			p.send(openRecordMsg{id: rec.ID, collection: rec.Collection})
		}
	case key.Matches(msg, k.New):
		p.send(editMsg{collection: p.collection().Name, matterID: p.matterID})
	case key.Matches(msg, k.Edit):
		if rec, ok := p.selected(); ok {
			p.send(editMsg{collection: rec.Collection, rec: &rec})
		}
	case key.Matches(msg, k.Delete):
		if rec, ok := p.selected(); ok {
			return askDelete(p.Shared, rec)
		}
	case key.Matches(msg, k.Sort):
		return p.cycleSort()
	}
	return nil
}

// click selects a collection in the sidebar or a row of the list; a click
// on the selected row opens it.
func (p *recordsPane) click(msg tea.MouseClickMsg) tea.Cmd {
	if sw := p.sidebarW(); msg.X < sw {
		if i := msg.Y - 1; i >= 0 && i < len(p.cols) && i != p.sel { // under the column's title
			return p.switchCollection(i - p.sel)
		}
		return nil
	}
	first := 2 // the title and the column header
	if p.searching || p.text != "" {
		first++
	}
	i := p.list.Top() + msg.Y - first
	from, to := p.list.Visible()
	if msg.Y < first || i < from || i >= to {
		return nil
	}
	if i == p.list.Cursor() && !p.searching {
		return p.key(p.openKey())
	}
	p.list.Select(i)
	return p.fill()
}

func (p *recordsPane) matterCollection() *model.Collection {
	c, _ := p.Schema.Collection(model.MatterCollection)
	return c
}

// askDelete asks to confirm deleting rec. A matter that holds records is
// counted first: deleting it deletes them too, after a second question.
func askDelete(sh *Shared, rec model.Record) tea.Cmd {
	col, _ := sh.Schema.Collection(rec.Collection)
	title := safeLine(rec.Title(col))
	q := fmt.Sprintf("Delete the %s “%s”? It disappears here at once and from the server at the next sync.", singular(col), title)
	db := sh.DB
	if rec.Collection != model.MatterCollection {
		if rec.Collection == model.AttachmentCollection {
			sh.send(askMsg{question: q, yes: deleteRecord(db, rec)})
			return nil
		}
		// Its attached files go with it: the question says how many.
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
			defer cancel()
			files, err := db.Files(ctx, rec.ID)
			if err != nil {
				return noticeMsg{text: "Nothing was deleted: its attached files could not be read: " + err.Error(), level: levelError}
			}
			if n := len(files); n > 0 {
				return askMsg{question: fmt.Sprintf("Delete the %s “%s” and its %s? They disappear here at once and from the server at the next sync.",
					singular(col), title, plural(n, "attached file", "attached files")), yes: deleteRecord(db, rec)}
			}
			return askMsg{question: q, yes: deleteRecord(db, rec)}
		}
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		holds, err := db.MatterHolds(ctx, rec.ID)
		if err != nil {
			return noticeMsg{text: "Nothing was deleted: what the matter holds could not be read: " + err.Error(), level: levelError}
		}
		if len(holds) == 0 {
			return askMsg{question: q, yes: deleteRecord(db, rec)}
		}
		n := (&localdb.MatterHoldsError{Counts: holds}).Total()
		what := plural(n, "record", "records") + " (" + localdb.HoldsList(holds) + ")"
		second := askMsg{question: fmt.Sprintf("Really delete “%s” and all %s? They disappear here at once and from the server at the next sync.", title, what),
			yes: deleteMatterCascade(db, rec)}
		return askMsg{question: fmt.Sprintf("The matter “%s” holds %s. Delete them with it? You are asked once more.", title, what), then: second}
	}
}

// singular is a collection's label for one record ("Time entries" → "time entry").
func singular(c *model.Collection) string {
	return strings.ReplaceAll(c.Name, "_", " ")
}

// ShortHelp lists the most useful keys of the list.
func (p *recordsPane) ShortHelp() []key.Binding {
	k := p.Keys
	if p.picker != nil {
		return p.picker.ShortHelp()
	}
	if p.searching {
		return []key.Binding{k.Open, k.Back, k.ListUp, k.ListDown}
	}
	if p.collection().Name == model.TaskCollection {
		return []key.Binding{k.Open, k.New, k.MarkDone, k.Search, k.Matter, k.NextColl}
	}
	return []key.Binding{k.Open, k.New, k.Search, k.Matter, k.NextColl}
}

// FullHelp lists every key of the list.
func (p *recordsPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{
		p.list.Bindings(),
		{k.PrevColl, k.NextColl, k.Search, k.Matter, k.ClearFilter},
		{k.Open, k.New, k.Edit, k.Delete, k.MarkDone},
		{k.Sort},
	}
}
