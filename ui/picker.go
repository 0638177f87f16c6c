package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// pickItem is one choice of a picker.
type pickItem struct {
	ID, Title string
}

// pickedMsg is a picker's answer; ok is false when the person cancelled.
type pickedMsg struct {
	owner string
	item  pickItem
	ok    bool
}

// picker chooses one item from a list filtered as the person types: the
// matter filter and ref fields use it.
type picker struct {
	Common
	owner  string // who asked, echoed in pickedMsg
	title  string
	all    []pickItem
	shown  []pickItem
	filter lineInput
	cursor int
	top    int
}

func newPicker(sh *Shared, owner, title string, items []pickItem) *picker {
	p := &picker{Common: Common{Shared: sh}, owner: owner, title: title, all: items}
	p.filter = newLineInput(sh.Styles, "filter: ", "type to narrow the list", "")
	p.filter.Focus()
	p.apply()
	return p
}

func (p *picker) Init() tea.Cmd { return nil }

func (p *picker) apply() {
	q := strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.shown = p.shown[:0]
	for _, it := range p.all {
		if q == "" || strings.Contains(strings.ToLower(it.Title), q) {
			p.shown = append(p.shown, it)
		}
	}
	p.cursor = clamp(p.cursor, 0, len(p.shown)-1)
	p.top = scrollInto(min(p.top, p.cursor), p.cursor, p.rows())
}

func (p *picker) rows() int { return max(1, p.Height-4) }

// Update moves the cursor, narrows the list, chooses or cancels.
func (p *picker) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Back):
			return p.answer(pickItem{}, false)
		case key.Matches(msg, k.Choose):
			if len(p.shown) == 0 {
				return nil
			}
			return p.answer(p.shown[p.cursor], true)
		case key.Matches(msg, k.ListUp):
			p.move(-1)
			return nil
		case key.Matches(msg, k.ListDown):
			p.move(1)
			return nil
		}
		if p.filter.Update(msg) {
			p.apply()
		}
		return nil
	case tea.PasteMsg:
		p.filter.Update(msg)
		p.apply()
	case tea.MouseWheelMsg:
		if msg.Button == tea.MouseWheelUp {
			p.move(-3)
		} else if msg.Button == tea.MouseWheelDown {
			p.move(3)
		}
	}
	return nil
}

func (p *picker) move(d int) {
	p.cursor = clamp(p.cursor+d, 0, len(p.shown)-1)
	p.top = scrollInto(p.top, p.cursor, p.rows())
}

func (p *picker) answer(it pickItem, ok bool) tea.Cmd {
	p.send(pickedMsg{owner: p.owner, item: it, ok: ok})
	return nil
}

// View draws the picker as a titled box.
func (p *picker) View() string {
	s := p.Styles
	w := max(10, p.Width-4)
	lines := []string{s.DialogTitle.Render(p.title), p.filter.View(s, w)}
	rows := p.rows()
	switch {
	case len(p.all) == 0:
		lines = append(lines, s.Muted.Render("There is nothing to choose from yet."))
	case len(p.shown) == 0:
		lines = append(lines, s.Muted.Render("Nothing matches."))
	}
	for i := p.top; i < len(p.shown) && i < p.top+rows; i++ {
		line := pad("  "+p.shown[i].Title, w)
		if i == p.cursor {
			line = s.RowSelected.Render(pad("▸ "+p.shown[i].Title, w))
		}
		lines = append(lines, line)
	}
	return s.Dialog.Width(w + 4).Render(fitLines(strings.Join(lines, "\n"), rows+2))
}

// ShortHelp lists the picker's keys.
func (p *picker) ShortHelp() []key.Binding {
	return []key.Binding{p.Keys.Choose, p.Keys.Back}
}

// FullHelp lists the picker's keys.
func (p *picker) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }
