package ui

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/model"
	"casefile/syncer"
	"casefile/transfer"
)

// Timings of the status line and the connectivity check.
const (
	// noticeFade is how long an info or OK sentence stays.
	noticeFade = 8 * time.Second
	// toggleSettle is how long after a work offline switch the app trusts
	// its own view over the syncer's, which may not have heard yet.
	toggleSettle = 2 * time.Second
)

// Update is the app's single entry for every message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	return m, m.step(msg)
}

// step handles a message and then every message the panes sent the app
// while handling it, in order, before any further input; then the input
// held while a pane waited, once none waits any more.
func (m *Model) step(msg tea.Msg) tea.Cmd {
	cmds := []tea.Cmd{m.update(msg)}
	for {
		for len(m.sh.queue) > 0 {
			next := m.sh.queue[0]
			m.sh.queue = m.sh.queue[1:]
			cmds = append(cmds, m.update(next))
		}
		if len(m.held) == 0 || m.awaiting() {
			return tea.Batch(cmds...)
		}
		next := m.held[0]
		m.held = m.held[1:]
		cmds = append(cmds, m.update(next))
	}
}

// update routes a message: input to the active pane (through the app's
// own keys first), the frame's messages to the app, requests between
// panes to navigate, and everything else to every pane, which claims its
// own; outcomes of writes reach the panes first and then the app.
func (m *Model) update(msg tea.Msg) tea.Cmd {
	if cmd, handled := m.revokedMsg(msg); handled {
		return cmd
	}
	if cmd, handled := m.lockMsg(msg); handled {
		return cmd
	}
	if m.holds(msg) {
		return nil
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return nil
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.applySettings(m.settings)
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseClickMsg:
		return m.click(msg)
	case tea.MouseWheelMsg, tea.PasteMsg:
		if m.showHelp {
			return m.helpKey(msg)
		}
		if m.ask != nil {
			return nil
		}
		return m.active().Update(msg)
	}
	if cmd, ok := m.frameMsg(msg); ok {
		return cmd
	}
	if cmd, ok := m.navigate(msg); ok {
		return cmd
	}
	return tea.Batch(m.panes.broadcast(msg), m.outcome(msg))
}

// frameMsg handles the messages of the app itself: clocks, the data
// version poll, the syncer, the config file, the header's reads.
func (m *Model) frameMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case pollMsg:
		return readDataVersion(m.sh.DB), true
	case dataVersionMsg:
		if msg.err != nil || msg.v == m.poll.dataVersion {
			return m.pollTick(), true
		}
		m.poll.dataVersion = msg.v
		// The next look waits for this refresh, so reads never pile up
		// while another process (or the syncer) writes continuously.
		m.poll.afterStatus = true
		return m.refreshAll(), true
	case clockMsg:
		return m.clock(), true
	case syncMsg:
		return tea.Batch(m.onSync(syncer.Event(msg)), waitSync(m.opts.Syncer.Events())), true
	case syncEndMsg:
		return nil, true
	case transferProgressMsg:
		if m.sh.Transfers == nil {
			m.sh.Transfers = map[string]seenProgress{}
		}
		m.sh.Transfers[msg.AttachmentID] = seenProgress{Progress: transfer.Progress(msg), at: m.sh.Now()}
		return waitProgress(m.opts.Files.Progress), true
	case configMsg:
		reload, ch := m.opts.Reload, m.opts.ConfigChanged
		return tea.Batch(func() tea.Msg {
			s, err := reload()
			return settingsMsg{s: s, err: err}
		}, waitConfig(ch)), true
	case settingsMsg:
		if msg.err != nil {
			m.setNotice("The config file could not be read again: "+msg.err.Error()+". Nothing changed.", levelWarn)
			return nil, true
		}
		m.applySettings(msg.s)
		return nil, true
	case noticeMsg:
		m.setNotice(msg.text, msg.level)
		return nil, true
	case statusMsg:
		return m.statusRead(msg), true
	case mattersMsg:
		if msg.id == m.head.mattersID && msg.err == nil {
			m.sh.setMatters(msg.matters)
		}
		return nil, true
	}
	return nil, false
}

// onSync follows a syncer event: the app's connectivity and progress, and
// whatever the panes take from it (the activity feed counts records moved).
func (m *Model) onSync(e syncer.Event) tea.Cmd {
	return tea.Batch(m.syncEvent(e), m.panes.broadcast(syncMsg(e)))
}

// clock fades the status line and checks the syncer's connectivity.
func (m *Model) clock() tea.Cmd {
	now := m.sh.Now()
	if m.notice.text != "" && m.notice.level < levelHint && now.Sub(m.notice.at) > noticeFade {
		m.notice.text = ""
	}
	// The syncer drops events rather than wait for a slow reader: check
	// the connectivity it holds now and then, unless the person has just
	// switched work offline and the syncer may not know yet.
	if s := m.opts.Syncer; s != nil && now.Sub(m.link.toggledAt) > toggleSettle {
		if c := s.Connectivity(); c != m.link.conn {
			return tea.Batch(m.syncEvent(syncer.Event{Kind: syncer.EventConnectivity, Connectivity: c}), m.clockTick())
		}
	}
	return m.clockTick()
}

// statusRead takes the header's status; the panes see the latest one.
func (m *Model) statusRead(msg statusMsg) tea.Cmd {
	if msg.id != m.head.statusID {
		return nil
	}
	m.head.statusErr = msg.err
	var cmds []tea.Cmd
	if msg.err == nil {
		m.head.status = msg.status
		cmds = append(cmds, m.panes.broadcast(msg))
	}
	if m.poll.afterStatus {
		m.poll.afterStatus = false
		cmds = append(cmds, m.pollTick())
	}
	return tea.Batch(cmds...)
}

// navigate handles the panes' requests to open, close and ask.
func (m *Model) navigate(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case openRecordMsg:
		if msg.collection == model.MatterCollection || (msg.collection == "" && m.isMatter(msg.id)) {
			return m.openHub(msg.id), true
		}
		return m.openDetail(msg.id), true
	case openDetailMsg:
		return m.openDetail(msg.id), true
	case showRecordsMsg:
		return m.showRecords(msg), true
	case editMsg:
		col, ok := m.sh.Schema.Collection(msg.collection)
		if !ok {
			return nil, true
		}
		m.editor = newEditorPane(m.sh, col, msg.rec, msg.matterID)
		m.layout()
		return m.editor.Init(), true
	case closeEditorMsg:
		m.editor = nil
		return nil, true
	case askMsg:
		m.ask = &msg
		return nil, true
	case reviewMsg:
		m.conflicts.show(msg.recordID)
		return m.switchTo(screenConflicts), true
	}
	return nil, false
}

// outcome is the app's part in a finished write, after the panes had
// theirs: the status line, the next screen, the syncer and a refresh.
func (m *Model) outcome(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case savedMsg:
		if msg.err != nil {
			return nil // the editor shows why
		}
		m.editor = nil
		m.setNotice(m.savedSentence(), levelOK)
		m.screen = screenRecords
		m.detail = newDetailPane(m.sh, msg.rec.ID)
		m.layout()
		cmds = append(cmds, m.detail.Init(), m.nudge())
	case deletedMsg:
		if msg.err != nil {
			m.setNotice(errMessage("deleted", msg.err), levelError)
			return nil
		}
		if m.detail != nil && m.detail.id == msg.rec.ID {
			m.detail = nil
		}
		if m.hub != nil && m.hub.id == msg.rec.ID {
			m.hub = nil
		}
		col, _ := m.sh.Schema.Collection(msg.rec.Collection)
		what := fmt.Sprintf("Deleted “%s”. ", safeLine(msg.rec.Title(col)))
		if msg.held > 0 {
			what = fmt.Sprintf("Deleted “%s” and the %s it held. ", safeLine(msg.rec.Title(col)), plural(msg.held, "record", "records"))
		}
		m.setNotice(what+m.savedSentence(), levelOK)
		cmds = append(cmds, m.nudge())
	case resolvedMsg:
		if msg.err != nil {
			return nil // the conflict review shows why
		}
		m.setNotice("Conflict resolved. "+m.savedSentence(), levelOK)
		cmds = append(cmds, m.nudge())
	case retriedMsg:
		if msg.err != nil {
			m.setNotice(errMessage("retried", msg.err), levelError)
			return nil
		}
		m.setNotice(fmt.Sprintf("%s again now.", plural(msg.n, "change will be sent", "changes will be sent")), levelOK)
		// The person asked for now: a full cycle past any backoff the
		// syncer holds after failures, which a nudge would wait out.
		cmds = append(cmds, m.syncNow())
	case taskDoneMsg:
		return m.taskDone(msg)
	case undoneMsg:
		if !m.undone(msg) {
			return nil
		}
		cmds = append(cmds, m.nudge())
	case discardedMsg:
		if msg.err != nil {
			m.setNotice(errMessage("discarded", msg.err), levelError)
			return nil
		}
		m.setNotice("Discarded. The record shows the server's copy again; the journal keeps what you did.", levelOK)
		cmds = append(cmds, m.nudge())
	default:
		return nil
	}
	return tea.Batch(append(cmds, m.refreshAll())...)
}

// stateCount is the number of records in one state.
func (m *Model) stateCount(st model.SyncState) int { return m.head.status.Counts[st] }
