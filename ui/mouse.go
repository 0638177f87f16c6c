package ui

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// The mouse: a left click on a tab shows its screen, on a key of the hint
// line (the frame's buttons) presses that key, and in the body goes to the
// active pane in the pane's own cells (row 0 is the body's first line),
// where a click on a row selects it and a click on the selected row opens
// it, as enter does.

// bodyTop is the frame's first row of the body.
func (m *Model) bodyTop() int {
	top := headerRows + tabRows
	if m.head.progress.active {
		top++
	}
	return top
}

// click routes a left click by where it landed.
func (m *Model) click(msg tea.MouseClickMsg) tea.Cmd {
	if msg.Button != tea.MouseLeft || m.lock.locked {
		return nil
	}
	tabRow := m.bodyTop() - 1
	switch {
	case msg.Y == m.height-1:
		for _, h := range m.hints(m.width) {
			if msg.X >= h.x && msg.X < h.x+h.w {
				return m.key(keyMsg(h.b))
			}
		}
		return nil
	case m.ask != nil || m.showHelp:
		return nil
	case msg.Y == tabRow:
		if m.capturing() {
			return nil // a form or a filter is open: its keys say how to leave
		}
		for _, t := range m.tabs(m.width) {
			if msg.X >= t.x && msg.X < t.x+t.w {
				return m.switchTo(t.screen)
			}
		}
		return nil
	case msg.Y >= m.bodyTop() && msg.Y < m.bodyTop()+m.bodyHeight():
		local := msg
		local.Y -= m.bodyTop()
		return m.active().Update(local)
	}
	return nil
}

// keyMsg is the key press of a binding's first key, as a click on its
// hint presses it.
func keyMsg(b key.Binding) tea.KeyPressMsg {
	keys := b.Keys()
	if len(keys) == 0 {
		return tea.KeyPressMsg{}
	}
	return parseKey(keys[0])
}

// parseKey builds the message Bubble Tea sends for a key as key.Matches
// names it ("enter", "ctrl+s", "M", "?").
func parseKey(name string) tea.KeyPressMsg {
	special := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "backspace": tea.KeyBackspace,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
		"delete": tea.KeyDelete, "space": tea.KeySpace,
	}
	var mod tea.KeyMod
	for {
		if rest, ok := strings.CutPrefix(name, "ctrl+"); ok {
			mod, name = mod|tea.ModCtrl, rest
		} else if rest, ok := strings.CutPrefix(name, "shift+"); ok {
			mod, name = mod|tea.ModShift, rest
		} else if rest, ok := strings.CutPrefix(name, "alt+"); ok {
			mod, name = mod|tea.ModAlt, rest
		} else {
			break
		}
	}
	if r, ok := special[name]; ok {
		k := tea.KeyPressMsg{Code: r, Mod: mod}
		if r == tea.KeySpace && mod == 0 {
			k.Text = " "
		}
		return k
	}
	r, _ := utf8.DecodeRuneInString(name)
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: name}
}

// openKey is the key a click on the selected row stands for.
func (c *Common) openKey() tea.KeyPressMsg { return keyMsg(c.Keys.Open) }
