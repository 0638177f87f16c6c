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

// The pickers' answers, one type per owner.
type (
	// matterPickedMsg is the records pane's matter filter.
	matterPickedMsg struct {
		item pickItem
		ok   bool
	}
	// refPickedMsg is the editor's ref field.
	refPickedMsg struct {
		item pickItem
		ok   bool
	}
)

// picker chooses one item from a list filtered as the person types: the
// matter filter and ref fields use it. It answers with the message its
// owner's answer function makes (ok is false when the person cancelled),
// so each owner receives a message type of its own.
type picker struct {
	Common
	answerMsg func(it pickItem, ok bool) tea.Msg
	title     string
	all       []pickItem
	shown     []pickItem
	filter    lineInput
	list      scroller
}

func newPicker(sh *Shared, title string, items []pickItem, answer func(pickItem, bool) tea.Msg) *picker {
	p := &picker{Common: Common{Shared: sh}, answerMsg: answer, title: title, all: items, list: newScroller(sh.Keys)}
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
	p.list.SetLen(len(p.shown))
}

func (p *picker) rows() int { return max(1, p.Height-4) }

// SetSize sizes the picker and its list.
func (p *picker) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(p.rows())
}

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
			return p.answer(p.shown[p.list.Cursor()], true)
		case key.Matches(msg, k.ListUp):
			p.list.Move(-1)
			return nil
		case key.Matches(msg, k.ListDown):
			p.list.Move(1)
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
		// The wheel only: the letters of the list keys type the filter.
		p.list.Update(msg)
	}
	return nil
}

func (p *picker) answer(it pickItem, ok bool) tea.Cmd {
	p.send(p.answerMsg(it, ok))
	return nil
}

// View draws the picker as a titled box.
func (p *picker) View() string {
	s := p.Styles
	w := max(10, p.Width-4)
	lines := []string{s.DialogTitle.Render(p.title), p.filter.View(s, w)}
	switch {
	case len(p.all) == 0:
		lines = append(lines, s.Muted.Render("There is nothing to choose from yet."))
	case len(p.shown) == 0:
		lines = append(lines, s.Muted.Render("Nothing matches."))
	}
	from, to := p.list.Visible()
	for i := from; i < to; i++ {
		line := pad("  "+p.shown[i].Title, w)
		if i == p.list.Cursor() {
			line = s.RowSelected.Render(pad("▸ "+p.shown[i].Title, w))
		}
		lines = append(lines, line)
	}
	return s.Dialog.Width(w + 4).Render(fitLines(strings.Join(lines, "\n"), p.rows()+2))
}

// ShortHelp lists the picker's keys.
func (p *picker) ShortHelp() []key.Binding {
	return []key.Binding{p.Keys.Choose, p.Keys.Back}
}

// FullHelp lists the picker's keys.
func (p *picker) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }
