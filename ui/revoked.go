package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"casefile/syncer"
)

// revokedState is the screen shown once the syncer says an administrator
// revoked this device: every value hidden, as when locked, while the wipe
// runs and after it; the person can only read what happened and quit.
type revokedState struct {
	on     bool
	wiping bool
	done   string // what the wipe did, in a sentence
	err    string // why it could not
}

// wipedMsg is the wipe's outcome.
type wipedMsg struct {
	text string
	err  error
}

// revokedMsg handles every message once the device is revoked (and the
// revocation itself): nothing reaches the panes any more, since the wipe
// closes the database under them. handled is true when the message must
// go no further.
func (m *Model) revokedMsg(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	if e, ok := msg.(syncMsg); ok && e.Kind == syncer.EventRevoked && !m.revoked.on {
		m.revoked = revokedState{on: true, wiping: true}
		m.lockNow()
		wipe := m.opts.Wipe
		if wipe == nil {
			m.revoked.wiping = false
			m.revoked.err = "This program cannot delete the data by itself; run casefile sync to do it."
			return nil, true
		}
		return func() tea.Msg {
			text, err := wipe()
			return wipedMsg{text: text, err: err}
		}, true
	}
	if !m.revoked.on {
		return nil, false
	}
	switch msg := msg.(type) {
	case wipedMsg:
		m.revoked.wiping = false
		m.revoked.done = msg.text
		if msg.err != nil {
			m.revoked.err = msg.err.Error()
		}
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		if !m.revoked.wiping {
			return tea.Quit, true
		}
	}
	return nil, true
}

// revokedView replaces the whole screen: no header, no record, no count.
func (m *Model) revokedView() string {
	s := m.sh.Styles
	lines := []string{"", "  " + s.Title.Render("This device was revoked"), "",
		"  " + syncer.RevokedSentence}
	switch {
	case m.revoked.wiping:
		lines = append(lines, "", "  Deleting this device's copy; unsent changes are kept, encrypted…")
	case m.revoked.err != "":
		lines = append(lines, "", "  "+s.Error.Render("Nothing could be deleted: "+safeLine(m.revoked.err)), "", "  Press any key to quit.")
	default:
		lines = append(lines, "", "  "+wrapText(sentence(safeLine(m.revoked.done)), max(20, m.width-4), "  "), "", "  Press any key to quit.")
	}
	return fitLines(strings.Join(lines, "\n"), m.height)
}

// wrapText breaks s into lines of at most w cells at spaces, each line
// after the first starting with indent.
func wrapText(s string, w int, indent string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > w:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"+indent)
}
