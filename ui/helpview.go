package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"casefile/model"
)

// globalHelp is the help of the keys that work on every screen.
type globalHelp struct{ k *KeyMap }

// ShortHelp leaves quit out: the hint line always ends with it (quitKey).
func (g globalHelp) ShortHelp() []key.Binding {
	return []key.Binding{g.k.Help, g.k.NextScreen, g.k.WorkOffline, g.k.SyncNow}
}

func (g globalHelp) FullHelp() [][]key.Binding {
	k := g.k
	return [][]key.Binding{
		{k.Records, k.Conflicts, k.Backlog, k.Activity, k.Agenda, k.NextScreen, k.PrevScreen},
		{k.WorkOffline, k.SyncNow, k.Undo, k.Help, k.Back, k.Quit},
	}
}

// quitKey is the key that quits right now: q, or ctrl+c while a pane
// takes typed letters or a question waits for its answer (q is then a
// letter or no answer).
func (m *Model) quitKey() key.Binding {
	if m.ask != nil || (!m.showHelp && m.capturing()) {
		return m.sh.Keys.ForceQuit
	}
	return m.sh.Keys.Quit
}

// hintBindings are the keys the hint line offers, most useful first, quit
// left out (it always comes last).
func (m *Model) hintBindings() []key.Binding {
	k := m.sh.Keys
	switch {
	case m.ask != nil:
		return []key.Binding{k.Confirm, k.Cancel}
	case m.showHelp:
		// In the help, ? closes it: say so, not "all keys".
		closeHelp := key.NewBinding(key.WithKeys(k.Help.Keys()...), key.WithHelp(k.Help.Help().Key, "close"))
		return []key.Binding{closeHelp, k.Down, k.Up}
	}
	b := m.active().ShortHelp()
	if !m.capturing() {
		b = append(b, globalHelp{k}.ShortHelp()...)
	}
	return b
}

// hint is one key of the hint line and where it is drawn.
type hint struct {
	b    key.Binding
	x, w int // first cell and width
	text string
}

// hintSeparator goes between the hints.
const hintSeparator = " • "

// hints lays out the hint line in w cells: as many keys as fit, in their
// order, and always the help and quit keys at the end, which are never cut
// for the others.
func (m *Model) hints(w int) []hint {
	st := m.sh.Styles.Help
	item := func(b key.Binding) (string, int) {
		h := b.Help()
		return st.ShortKey.Inline(true).Render(h.Key) + " " + st.ShortDesc.Inline(true).Render(h.Desc),
			lipgloss.Width(h.Key) + 1 + lipgloss.Width(h.Desc)
	}
	// The help key, where offered, is kept too, just before quit: it
	// leads to every key the line has no room for.
	pinned := []key.Binding{m.quitKey()}
	var rest []key.Binding
	for _, b := range m.hintBindings() {
		switch {
		case !b.Enabled():
		case m.showHelp || !key.Matches(keyMsg(b), m.sh.Keys.Help):
			rest = append(rest, b)
		default:
			pinned = []key.Binding{b, m.quitKey()}
		}
	}
	sep := lipgloss.Width(hintSeparator)
	tail := 0
	for _, b := range pinned {
		_, bw := item(b)
		tail += bw + sep
	}
	if len(pinned) > 1 && 1+tail-sep > w {
		pinned = pinned[1:] // no room for both: quit stays
		_, qw := item(pinned[0])
		tail = qw + sep
	}
	var out []hint
	x := 1 // the line starts with a space
	for _, b := range rest {
		t, bw := item(b)
		if x+bw+sep+tail-sep > w {
			break
		}
		out = append(out, hint{b: b, x: x, w: bw, text: t})
		x += bw + sep
	}
	for _, b := range pinned {
		t, bw := item(b)
		out = append(out, hint{b: b, x: x, w: bw, text: t})
		x += bw + sep
	}
	return out
}

// shortHelpView is the hint line.
func (m *Model) shortHelpView() string {
	sep := m.sh.Styles.Help.ShortSeparator.Inline(true).Render(hintSeparator)
	var b strings.Builder
	b.WriteByte(' ')
	for i, h := range m.hints(m.width) {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(h.text)
	}
	// Cut too, for a terminal narrower than the quit key itself.
	return truncate(b.String(), m.width)
}

// helpLines is the full help, every line; the first is its title.
func (m *Model) helpLines() []string {
	s := m.sh.Styles
	cols := append(globalHelp{m.sh.Keys}.FullHelp(), m.active().FullHelp()...)
	lines := append([]string{""}, packColumns(s, cols, m.width-1)...)
	lines = append(lines, "", s.Muted.Render(" Record states:"))
	// The badges wrap to the width, each whole.
	row := "  "
	for _, st := range []model.SyncState{model.StatePending, model.StateSyncing, model.StateRetrying,
		model.StateFailed, model.StateConflict, model.StateSynced} {
		b := s.badge(st)
		if lipgloss.Width(row)+2+lipgloss.Width(b) > m.width && row != "  " {
			lines = append(lines, row)
			row = "  "
		}
		row += " " + b + " "
	}
	lines = append(lines, row)
	if m.opts.Hint != "" {
		lines = append(lines, "", s.Info.Render(" "+m.opts.Hint))
	}
	return lines
}

// helpRows is how many lines of help fit under its title.
func (m *Model) helpRows() int { return max(1, m.bodyHeight()-1) }

// helpKey scrolls or closes the help; q quits, as the help itself says.
func (m *Model) helpKey(msg tea.Msg) tea.Cmd {
	k := m.sh.Keys
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help, k.Back):
			m.showHelp = false
			return nil
		}
	}
	rows := m.helpRows()
	m.helpList.SetRows(rows)
	m.helpList.SetLen(max(1, len(m.helpLines())-rows+1))
	m.helpList.Update(msg)
	return nil
}

// openHelp shows the help from its top.
func (m *Model) openHelp() tea.Cmd {
	m.showHelp = true
	m.helpList.Reset()
	return nil
}

// fullHelpView draws the part of the help in sight under a title that
// says how to close it and, when it does not fit, where it is.
func (m *Model) fullHelpView() string {
	s := m.sh.Styles
	k := m.sh.Keys
	lines := m.helpLines()
	rows := m.helpRows()
	top := clamp(m.helpList.Top(), 0, max(0, len(lines)-rows))
	title := s.Title.Render(" Keys") + s.Muted.Render(" · "+k.Help.Help().Key+" or "+k.Back.Help().Key+" closes")
	if len(lines) > rows {
		more := "↓ more below"
		switch {
		case top+rows >= len(lines):
			more = "↑ more above"
		case top > 0:
			more = "↑↓ more"
		}
		title = joinRight(title, s.Muted.Render(more+" "), m.width)
	}
	out := []string{truncate(title, m.width)}
	for _, l := range lines[top:min(len(lines), top+rows)] {
		out = append(out, truncate(l, m.width))
	}
	return strings.Join(out, "\n")
}
