package ui

import (
	"fmt"
	"strings"

	"github.com/dustin/go-humanize"

	"casefile/model"
)

// View draws the sidebar and the list.
func (p *recordsPane) View() string {
	if p.picker != nil {
		return p.picker.View()
	}
	sw := p.sidebarW()
	list := p.listView(max(10, p.Width-p.listX()))
	if sw == 0 {
		return fitLines(list, p.Height)
	}
	side := p.sidebarView(sw)
	sl, ll := strings.Split(side, "\n"), strings.Split(list, "\n")
	var b strings.Builder
	for i := range p.Height {
		if i > 0 {
			b.WriteByte('\n')
		}
		l, r := "", ""
		if i < len(sl) {
			l = sl[i]
		}
		if i < len(ll) {
			r = ll[i]
		}
		b.WriteString(pad(l, sw) + p.Styles.Rule.Render("│") + r)
	}
	return b.String()
}

func (p *recordsPane) sidebarView(sw int) string {
	s := p.Styles
	lines := []string{s.ColHeader.Render(" Collections")}
	for i, c := range p.cols {
		n := humanize.Comma(int64(p.counts[c.Name]))
		label := truncate(c.Label, sw-3-len(n)-1)
		line := joinRight(" "+label, n+" ", sw)
		if i == p.sel {
			line = s.SideActive.Render(joinRight("▸"+label, n+" ", sw))
		} else {
			line = s.SideItem.Render(line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (p *recordsPane) listView(w int) string {
	s := p.Styles
	c := p.collection()
	scope := "all matters"
	if p.matterID != "" {
		scope = "matter: " + p.matterTitle
	}
	title := s.Title.Render(" "+c.Label) + s.Muted.Render(" · "+scope)
	if p.text != "" && !p.searching {
		title += s.Muted.Render(" · matching “" + p.text + "”")
	}
	pos := ""
	if p.loaded && p.list.Len() > 0 {
		pos = fmt.Sprintf("%s of %s ", humanize.Comma(int64(p.list.Cursor()+1)), humanize.Comma(int64(p.list.Len())))
	}
	lines := []string{joinRight(title, s.Muted.Render(pos), w)}
	if p.searching || p.text != "" {
		lines = append(lines, " "+p.search.View(s, w-1))
	}
	cols := p.listColumns(c)
	widths := p.widths(c, cols, w)
	sort := p.sortOf(c)
	head := " "
	for i, col := range cols {
		f, _ := c.Field(col)
		label := strings.ToUpper(f.Label)
		if col == model.MatterField {
			label = "MATTER"
		}
		if col == sort.field {
			// The sorted column says so, and which way, in words a
			// terminal without colour shows too.
			label = truncate(label, max(1, widths[i]-2)) + map[bool]string{false: " ↑", true: " ↓"}[sort.desc]
		}
		head += pad(label, widths[i]) + " "
	}
	lines = append(lines, s.ColHeader.Render(head+"SYNC"))
	switch {
	case p.err != nil:
		lines = append(lines, s.Error.Render(" The list could not be read: "+p.err.Error()))
	case !p.loaded:
		lines = append(lines, s.Muted.Render(" Loading…"))
	case p.list.Len() == 0:
		lines = append(lines, p.emptyView())
	}
	from, to := p.list.Visible()
	for i := from; p.loaded && i < to; i++ {
		lines = append(lines, p.rowView(c, i, widths, w))
	}
	return strings.Join(lines, "\n")
}

func (p *recordsPane) emptyView() string {
	s := p.Styles
	if p.text != "" || p.matterID != "" {
		return s.Muted.Render(" Nothing matches. Press " + p.Keys.ClearFilter.Help().Key + " to clear the filters.")
	}
	return s.Muted.Render(fmt.Sprintf(" No %s yet. Press %s to add one.", strings.ToLower(p.collection().Label), p.Keys.New.Help().Key))
}

func (p *recordsPane) rowView(c *model.Collection, i int, widths []int, w int) string {
	s := p.Styles
	j := i - p.winOff
	if j < 0 || j >= len(p.win) {
		return s.Placeholder.Render(pad(" …", w))
	}
	r := p.win[j]
	// Rows are drawn once and kept: scrolling redraws only the rows that
	// changed, which keeps a keypress well inside a frame.
	if len(p.listColumns(c)) != len(c.Columns) {
		p.matterName(nil) // the titles current before the row's key names them
	}
	ck := rowKey{id: r.ID, version: r.Version, at: r.UpdatedAt.UnixNano(), state: r.State, deleted: r.Deleted, sel: i == p.list.Cursor(), w: w,
		matters: -1}
	if len(p.listColumns(c)) != len(c.Columns) {
		ck.matters = p.titlesGen
	}
	if p.rowStyles != p.Styles || len(p.rows) > maxCachedRows {
		p.rows, p.rowStyles = map[rowKey]string{}, p.Styles
	}
	if row, ok := p.rows[ck]; ok {
		return row
	}
	row := p.drawRow(c, p.listColumns(c), r, i, widths, w)
	p.rows[ck] = row
	return row
}

// rowKey names a drawn row: the record as it was, and how it was shown.
type rowKey struct {
	id      string
	version int64
	at      int64
	state   model.SyncState
	deleted bool
	sel     bool
	w       int
	// matters counts rebuilds of the matter titles a row may show.
	matters int
}

// maxCachedRows bounds the drawn-row cache.
const maxCachedRows = 1000

func (p *recordsPane) drawRow(c *model.Collection, cols []string, r model.Record, i int, widths []int, w int) string {
	s := p.Styles
	line := " "
	for k, col := range cols {
		f, _ := c.Field(col)
		v := p.display(f, r.Fields[col])
		if col == model.MatterField {
			v = p.matterName(r.Fields[col])
		}
		line += pad(oneLine(v), widths[k]) + " "
	}
	st := r.State
	if r.Deleted {
		line = pad(line, w-badgeWidth-1) + " " + pad("− deleting", badgeWidth)
		if i == p.list.Cursor() {
			return s.RowSelected.Render(pad(line, w))
		}
		return s.Faint.Render(line)
	}
	if i == p.list.Cursor() {
		// A marker as well as the highlight, for terminals without colour.
		line = "▸" + line[1:]
		return s.RowSelected.Render(pad(pad(line, w-badgeWidth-1)+" "+stateSymbol[st]+" "+st.Label(), w))
	}
	return s.Row.Render(pad(line, w-badgeWidth-1)) + " " + s.badge(st)
}

// whenWidth is the width of a short date and time ("Mon 15 Dec 09:30").
const whenWidth = 16

// fitWhen widens the date and time columns to show the hour, taking the
// cells from the other columns while they keep a readable width.
func fitWhen(c *model.Collection, cols []string, widths []int) []int {
	floor := func(j int) int {
		if j == 0 {
			return 10
		}
		return 5
	}
	for i, col := range cols {
		f, ok := c.Field(col)
		if !ok || f.Type != model.TypeDateTime {
			continue
		}
		for j := range widths {
			if widths[i] >= whenWidth {
				break
			}
			if j == i {
				continue
			}
			if isWhen(c, cols, j) {
				continue
			}
			take := min(whenWidth-widths[i], max(0, widths[j]-floor(j)))
			widths[j] -= take
			widths[i] += take
		}
	}
	return widths
}

// isWhen reports whether column j shows a date and time.
func isWhen(c *model.Collection, cols []string, j int) bool {
	f, ok := c.Field(cols[j])
	return ok && f.Type == model.TypeDateTime
}

// columnWidths shares w cells between n columns, the first twice as wide.
func columnWidths(n, w int) []int {
	if n == 0 {
		return nil
	}
	w -= n // gaps
	unit := max(4, w/(n+1))
	out := make([]int, n)
	used := 0
	for i := range out {
		out[i] = unit
		if i == 0 {
			out[i] = 2 * unit
		}
		used += out[i]
	}
	out[0] += max(0, w-used)
	return out
}
