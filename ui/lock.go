package ui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// DefaultIdleLock is how long the UI waits without input before it locks.
const DefaultIdleLock = 10 * time.Minute

// LockOptions configure the lock screen. The UI locks after Idle without a
// key or the mouse, and at once on each tick of Requests (`casefile
// lock`); locked, it shows no value at all until Unlock accepts the
// passphrase. Background sync goes on meanwhile.
type LockOptions struct {
	Idle     time.Duration   // 0: never locks by itself
	Requests <-chan struct{} // a tick locks the UI now
	// Unlock checks a passphrase (it may take a moment: argon2id); nil
	// error unlocks. NoPassphrase says the data key is stored unprotected
	// (the demo): Enter alone unlocks.
	Unlock       func(passphrase string) error
	NoPassphrase bool
}

// lockState is the lock screen's state.
type lockState struct {
	locked    bool
	lastInput time.Time
	typed     []rune // the passphrase being typed, never shown
	checking  bool
	err       string
}

// Messages of the lock.
type (
	lockRequestMsg struct{}
	unlockMsg      struct{ err error }
)

// waitLock waits for the next `casefile lock`; the app re-arms it.
func waitLock(ch <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		if _, ok := <-ch; !ok {
			return nil
		}
		return lockRequestMsg{}
	}
}

// lockMsg handles what the lock cares about before the rest of the app:
// input (typed into the lock screen while locked; noted as activity
// otherwise), the clock (idle time), lock requests and unlock answers.
// handled is true when the message must go no further.
func (m *Model) lockMsg(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	lo := m.opts.Lock
	if lo == nil {
		return nil, false
	}
	now := m.opts.Now()
	if m.lock.lastInput.IsZero() {
		m.lock.lastInput = now
	}
	switch msg := msg.(type) {
	case lockRequestMsg:
		m.lockNow()
		return waitLock(lo.Requests), true
	case unlockMsg:
		m.lock.checking = false
		if msg.err != nil {
			m.lock.err = "That is not the passphrase."
			return nil, true
		}
		m.lock = lockState{lastInput: now}
		return nil, true
	case clockMsg:
		if !m.lock.locked && lo.Idle > 0 && now.Sub(m.lock.lastInput) >= lo.Idle {
			m.lockNow()
		}
		return nil, false // the clock goes on to the frame
	case tea.KeyPressMsg:
		if !m.lock.locked {
			m.lock.lastInput = now
			return nil, false
		}
		return m.lockKey(msg), true
	case tea.MouseWheelMsg, tea.MouseClickMsg, tea.PasteMsg:
		if !m.lock.locked {
			m.lock.lastInput = now
			return nil, false
		}
		return nil, true // nothing reaches the panes while locked
	}
	return nil, false
}

// lockNow locks the UI, forgetting anything half typed, and any input
// held for a pane: none of it may reach the lock screen as a passphrase.
func (m *Model) lockNow() {
	m.lock = lockState{locked: true, lastInput: m.lock.lastInput}
	m.held = nil
}

// lockKey types into the lock screen; Enter checks the passphrase.
func (m *Model) lockKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.lock.checking {
		return nil
	}
	switch msg.String() {
	case "enter":
		typed := string(m.lock.typed)
		m.lock.typed, m.lock.checking, m.lock.err = nil, true, ""
		unlock := m.opts.Lock.Unlock
		if m.opts.Lock.NoPassphrase || unlock == nil {
			return func() tea.Msg { return unlockMsg{} }
		}
		return func() tea.Msg { return unlockMsg{err: unlock(typed)} }
	case "backspace":
		if n := len(m.lock.typed); n > 0 {
			m.lock.typed = m.lock.typed[:n-1]
		}
	case "esc", "ctrl+u":
		m.lock.typed = nil
	default:
		if t := msg.Key().Text; t != "" {
			m.lock.typed = append(m.lock.typed, []rune(t)...)
		}
	}
	return nil
}

// lockView replaces the whole screen while locked: no header, no record,
// no count; only how to unlock.
func (m *Model) lockView() string {
	s := m.sh.Styles
	lines := []string{"", "  " + s.Title.Render("Casefile is locked"), ""}
	switch {
	case m.opts.Lock.NoPassphrase:
		lines = append(lines, "  This data directory has no passphrase (its key is stored beside it).", "  Press Enter to unlock.")
	case m.lock.checking:
		lines = append(lines, "  Checking the passphrase…")
	default:
		lines = append(lines, "  Type the passphrase and press Enter to unlock: "+strings.Repeat("•", len(m.lock.typed)))
	}
	if m.lock.err != "" {
		lines = append(lines, "", "  "+s.Error.Render(m.lock.err))
	}
	lines = append(lines, "", "  Sync goes on in the background while locked.")
	return fitLines(strings.Join(lines, "\n"), m.height)
}
