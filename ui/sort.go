package ui

import (
	"context"
	"maps"
	"slices"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// sortState is how a list is ordered: by a field (field "" is by last
// change, newest first), ascending unless desc.
type sortState struct {
	field string
	desc  bool
}

// defaultSorts order the collections whose records people look up by
// date: what comes next first for hearings and tasks, the latest first
// for what already happened. The others list the last changed first.
var defaultSorts = map[string]sortState{
	"hearing":    {field: "starts_at"},
	"task":       {field: "due_on"},
	"site_visit": {field: "visited_at", desc: true},
	"time_entry": {field: "worked_on", desc: true},
	"document":   {field: "received_on", desc: true},
}

// sortOf is the order the list of c is shown in now.
func (p *recordsPane) sortOf(c *model.Collection) sortState {
	if s, ok := p.sorts[c.Name]; ok {
		return s
	}
	if s, ok := defaultSorts[c.Name]; ok {
		if _, has := c.Field(s.field); has {
			return s
		}
	}
	return sortState{}
}

// cycleSort moves the list's order to the next step: each column
// ascending, then descending, then the last change, then the first column
// again.
func (p *recordsPane) cycleSort() tea.Cmd {
	c := p.collection()
	steps := []sortState{{}}
	for _, col := range p.listColumns(c) {
		steps = append(steps, sortState{field: col}, sortState{field: col, desc: true})
	}
	cur := p.sortOf(c)
	i := slices.Index(steps, cur)
	next := steps[(i+1)%len(steps)]
	if p.sorts == nil {
		p.sorts = map[string]sortState{}
	}
	p.sorts[c.Name] = next
	return p.resetList()
}

// listColumns are the list's columns: the collection's own, and the
// matter of each record while every matter is shown.
func (p *recordsPane) listColumns(c *model.Collection) []string {
	if p.matterID != "" || p.Width-p.listX() < matterColumnFrom || c.Name == model.MatterCollection || slices.Contains(c.Columns, model.MatterField) {
		return c.Columns
	}
	if _, ok := c.Field(model.MatterField); !ok {
		return c.Columns
	}
	return append(slices.Clone(c.Columns), model.MatterField)
}

// The matter column: its width, and the list width it needs to be shown
// (below, the collection's own columns keep every cell).
const (
	matterColumnWidth = 14
	matterColumnFrom  = 70
)

// widths shares the list's width between its columns: the matter column
// takes a fixed share, the collection's own the rest (dates and times
// widened to show the hour).
func (p *recordsPane) widths(c *model.Collection, cols []string, w int) []int {
	avail := w - badgeWidth - 3
	own := cols
	if len(cols) > len(c.Columns) {
		own = cols[:len(c.Columns)]
		avail -= matterColumnWidth + 1
	}
	widths := fitWhen(c, own, columnWidths(len(own), avail))
	if len(cols) > len(own) {
		widths = append(widths, matterColumnWidth)
	}
	return widths
}

// matterName is the title of the matter a ref names, as the matters
// known to the UI have it; the id when it is not among them.
func (p *recordsPane) matterName(v any) string {
	id, _ := v.(string)
	if p.mattersRead != p.titlesFrom || p.titles == nil {
		col := p.matterCollection()
		titles := make(map[string]string, len(p.Matters))
		for _, m := range p.Matters {
			titles[m.ID] = m.Title(col)
		}
		// The matters are read after every change: the drawn rows are
		// thrown away only when a title did change.
		if p.titles == nil || !maps.Equal(titles, p.titles) {
			p.titlesGen++
		}
		p.titles, p.titlesFrom = titles, p.mattersRead
	}
	if t, ok := p.titles[id]; ok {
		return t
	}
	return id
}

// reloadCounts reads the sidebar's counts again, under the list's
// matter and text filters.
func (p *recordsPane) reloadCounts() tea.Cmd {
	p.countsID = p.newID()
	return loadFilteredCounts(p.DB, localdb.ListQuery{MatterID: p.matterID, Text: p.text}, p.countsID)
}

func loadFilteredCounts(db *localdb.DB, q localdb.ListQuery, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		c, err := db.FilteredCounts(ctx, q)
		return countsMsg{id: id, counts: c, err: err}
	}
}
