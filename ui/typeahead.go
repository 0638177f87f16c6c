package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// typeAhead keeps a key a pane cannot act on until its read lands. Typed
// ahead of the data (→ → e on the records, enter e on a matter), the key
// would otherwise be dropped: a key the person pressed, lost without a
// word. While one is kept the app holds the input typed after it
// (Model.holds), so that every key acts in the order it was typed. A pane
// keeps a key only while a read of its own is under way, and every read
// answers (queryTimeout), so the input always moves on.
type typeAhead struct{ kept *tea.KeyPressMsg }

// keep keeps msg until the read under way lands.
func (a *typeAhead) keep(msg tea.KeyPressMsg) { a.kept = &msg }

// Awaiting reports whether a key is kept.
func (a *typeAhead) Awaiting() bool { return a.kept != nil }

// release hands the kept key back to the app, which routes it as if typed
// now: the read landed, or failed and the pane says so.
func (a *typeAhead) release(sh *Shared) {
	if a.kept == nil {
		return
	}
	msg := *a.kept
	a.kept = nil
	sh.send(msg)
}

// firstReadKey reports whether a pane whose first read is under way keeps
// msg: a move or a key for the selected record, which that read decides.
func firstReadKey(k *KeyMap, list *scroller, msg tea.KeyPressMsg) bool {
	return key.Matches(msg, list.Bindings()...) || key.Matches(msg, k.Open, k.Edit, k.Delete, k.MarkDone)
}

// awaiting reports whether an open pane keeps a key until its read lands.
func (m *Model) awaiting() bool {
	for _, p := range m.panes.open() {
		if a, ok := p.(interface{ Awaiting() bool }); ok && a.Awaiting() {
			return true
		}
	}
	return false
}

// holds keeps input for later while a pane awaits its read, and reports
// whether it did; step hands it on, in order, once none awaits. ctrl+c is
// never held.
func (m *Model) holds(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, m.sh.Keys.ForceQuit) {
			return false
		}
	case tea.MouseClickMsg, tea.MouseWheelMsg, tea.PasteMsg:
	default:
		return false
	}
	if !m.awaiting() {
		return false
	}
	m.held = append(m.held, msg)
	return true
}
