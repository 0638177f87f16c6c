package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// keyAction is a key the app declares: its binding, when it applies, and
// what it does.
type keyAction struct {
	binding key.Binding
	when    func() bool // nil: always
	run     func() tea.Cmd
}

// globalKeys are the keys that work on every screen while the active pane
// is not taking text.
func (m *Model) globalKeys() []keyAction {
	k := m.sh.Keys
	to := func(s screen) func() tea.Cmd { return func() tea.Cmd { return m.switchTo(s) } }
	return []keyAction{
		{binding: k.Quit, run: func() tea.Cmd { return tea.Quit }},
		{binding: k.Help, run: m.openHelp},
		{binding: k.WorkOffline, run: m.toggleOffline},
		{binding: k.SyncNow, run: m.syncNowKey},
		{binding: k.Undo, run: func() tea.Cmd { return undoLast(m.sh.DB) }},
		{binding: k.NextScreen, run: func() tea.Cmd { return m.switchTo(m.screen + 1) }},
		{binding: k.PrevScreen, run: func() tea.Cmd { return m.switchTo(m.screen - 1) }},
		{binding: k.Records, run: to(screenRecords)},
		{binding: k.Conflicts, run: to(screenConflicts)},
		{binding: k.Backlog, run: to(screenBacklog)},
		{binding: k.Activity, run: to(screenActivity)},
		{binding: k.Agenda, run: to(screenAgenda)},
		{binding: k.MarkDone, when: func() bool { _, ok := m.selectedTask(); return ok }, run: m.markDone},
		{binding: k.Back, when: func() bool { return m.screen == screenRecords && (m.detail != nil || m.hub != nil) }, run: m.back},
		{binding: k.Back, when: func() bool { return m.screen != screenRecords }, run: to(screenRecords)},
	}
}

// key routes a key: the confirmation first, then help, then the global
// keys (unless the active pane is taking text), then the active pane.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.sh.Keys
	if key.Matches(msg, k.ForceQuit) {
		// Typing not yet kept is not thrown away at one keystroke: ask
		// once; a second ctrl+c while asked quits.
		if q := m.quitQuestion(); m.ask == nil && q != "" {
			m.ask = &askMsg{question: q, yes: tea.Quit}
			return nil
		}
		return tea.Quit
	}
	if m.ask != nil {
		switch {
		case key.Matches(msg, k.Confirm):
			ask := *m.ask
			m.ask = nil
			if ask.then != nil {
				m.sh.send(ask.then)
			}
			return ask.yes
		case key.Matches(msg, k.Cancel):
			m.ask = nil
		}
		return nil
	}
	if m.showHelp {
		return m.helpKey(msg)
	}
	if !m.capturing() {
		for _, a := range m.globalKeys() {
			if key.Matches(msg, a.binding) && (a.when == nil || a.when()) {
				return a.run()
			}
		}
	}
	return m.active().Update(msg)
}

// quitQuestion is what ctrl+c asks before it throws away what the person
// typed and has not kept: a half-filled form, or a merged value of a
// conflict; "" when quitting loses nothing typed.
func (m *Model) quitQuestion() string {
	switch {
	case m.editor != nil && m.editor.dirty():
		return "Quit Casefile without saving this form? What you typed in it is lost."
	case m.conflicts.unkeptMerge():
		return "Quit Casefile without keeping this merge? What you typed in it is lost."
	}
	return ""
}
