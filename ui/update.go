package ui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/model"
	"casefile/syncer"
)

// progressState follows the initial sync for its progress bar.
type progressState struct {
	active      bool
	done, total int64
	start       time.Time
}

// eta estimates the time left from the pace so far.
func (p progressState) eta(now time.Time) (time.Duration, bool) {
	el := now.Sub(p.start)
	if p.done <= 0 || el <= 0 || p.total <= p.done {
		return 0, false
	}
	rate := float64(p.done) / el.Seconds()
	return time.Duration(float64(p.total-p.done) / rate * float64(time.Second)), true
}

// Update is the app's single entry for every message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	return m, m.step(msg)
}

// step handles a message and then every message the panes sent the app
// while handling it, in order, before any further input.
func (m *Model) step(msg tea.Msg) tea.Cmd {
	cmds := []tea.Cmd{m.update(msg)}
	for len(m.sh.queue) > 0 {
		next := m.sh.queue[0]
		m.sh.queue = m.sh.queue[1:]
		cmds = append(cmds, m.update(next))
	}
	return tea.Batch(cmds...)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
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
	case tea.MouseWheelMsg, tea.PasteMsg:
		if m.ask != nil || m.showHelp {
			return nil
		}
		return m.active().Update(msg)

	case pollMsg:
		return readDataVersion(m.sh.DB)
	case dataVersionMsg:
		if msg.err != nil || msg.v == m.dataVersion {
			return m.pollTick()
		}
		m.dataVersion = msg.v
		// The next look waits for this refresh, so reads never pile up
		// while another process (or the syncer) writes continuously.
		m.pollAfterStatus = true
		return m.refreshAll()
	case clockMsg:
		now := m.sh.Now()
		if m.notice != "" && m.noticeLevel < levelHint && now.Sub(m.noticeAt) > 8*time.Second {
			m.notice = ""
		}
		// The syncer drops events rather than wait for a slow reader: check
		// the connectivity it holds now and then, unless the person has
		// just switched work offline and the syncer may not know yet.
		if s := m.opts.Syncer; s != nil && now.Sub(m.toggledAt) > 2*time.Second {
			if c := s.Connectivity(); c != m.conn {
				return tea.Batch(m.syncEvent(syncer.Event{Kind: syncer.EventConnectivity, Connectivity: c}), m.clockTick())
			}
		}
		return m.clockTick()
	case syncMsg:
		return tea.Batch(m.syncEvent(syncer.Event(msg)), waitSync(m.opts.Syncer.Events()))
	case syncEndMsg:
		return nil
	case configMsg:
		reload, ch := m.opts.Reload, m.opts.ConfigChanged
		return tea.Batch(func() tea.Msg {
			s, err := reload()
			return settingsMsg{s: s, err: err}
		}, waitConfig(ch))
	case settingsMsg:
		if msg.err != nil {
			m.setNotice("The config file could not be read again: "+msg.err.Error()+". Nothing changed.", levelWarn)
			return nil
		}
		m.applySettings(msg.s)
		return nil
	case noticeMsg:
		m.setNotice(msg.text, msg.level)
		return nil

	case statusMsg:
		if msg.id != m.statusID {
			return nil
		}
		m.statusErr = msg.err
		if msg.err == nil {
			m.status = msg.status
			m.activity.backlog.peak(m.sh.Now(), msg.status.OutboxOps)
		}
		if m.pollAfterStatus {
			m.pollAfterStatus = false
			return m.pollTick()
		}
		return nil
	case countsMsg:
		if msg.id == m.countsID {
			return m.records.Update(msg)
		}
		return nil
	case mattersMsg:
		if msg.id == m.mattersID && msg.err == nil {
			m.sh.Matters = msg.matters
		}
		return nil
	case windowMsg, searchTickMsg:
		return m.records.Update(msg)
	case detailMsg:
		if m.detail != nil {
			return m.detail.Update(msg)
		}
		return nil
	case conflictsMsg:
		return m.conflicts.Update(msg)
	case outboxMsg:
		return m.backlog.Update(msg)
	case journalMsg:
		return m.activity.Update(msg)
	case pickedMsg:
		if msg.owner == "ref" && m.editor != nil {
			return m.editor.Update(msg)
		}
		return m.records.Update(msg)

	case openRecordMsg:
		m.screen = screenRecords
		m.detail = newDetailPane(m.sh, msg.id)
		m.layout()
		return m.detail.Init()
	case editMsg:
		col, ok := m.sh.Schema.Collection(msg.collection)
		if !ok {
			return nil
		}
		m.editor = newEditorPane(m.sh, col, msg.rec, msg.matterID)
		m.layout()
		return nil
	case closeEditorMsg:
		m.editor = nil
		return nil
	case askMsg:
		m.ask = &msg
		return nil
	case reviewMsg:
		m.conflicts.show(msg.recordID)
		return m.switchTo(screenConflicts)
	case doneMsg:
		return m.done(msg)
	}
	return nil
}

// done reacts to a finished write.
func (m *Model) done(msg doneMsg) tea.Cmd {
	var cmds []tea.Cmd
	switch msg.what {
	case "saved":
		if m.editor != nil {
			cmds = append(cmds, m.editor.Update(msg))
		}
		if msg.err != nil {
			return tea.Batch(cmds...)
		}
		m.editor = nil
		m.setNotice(m.savedSentence(), levelOK)
		m.screen = screenRecords
		m.detail = newDetailPane(m.sh, msg.rec.ID)
		m.layout()
		cmds = append(cmds, m.detail.Init(), m.nudge())
	case "deleted":
		if msg.err != nil {
			m.setNotice(errMessage("deleted", msg.err), levelError)
			return nil
		}
		if m.detail != nil && m.detail.id == msg.rec.ID {
			m.detail = nil
		}
		col, _ := m.sh.Schema.Collection(msg.rec.Collection)
		m.setNotice(fmt.Sprintf("Deleted “%s”. ", msg.rec.Title(col))+m.savedSentence(), levelOK)
		cmds = append(cmds, m.nudge())
	case "resolved":
		cmds = append(cmds, m.conflicts.Update(msg))
		if msg.err != nil {
			return tea.Batch(cmds...)
		}
		m.setNotice("Conflict resolved. "+m.savedSentence(), levelOK)
		cmds = append(cmds, m.nudge())
	case "retried", "discarded":
		if msg.err != nil {
			m.setNotice(errMessage(msg.what, msg.err), levelError)
			return nil
		}
		if msg.what == "retried" {
			m.setNotice(fmt.Sprintf("%s again now.", plural(msg.n, "change will be sent", "changes will be sent")), levelOK)
			// The person asked for now: a full cycle past any backoff the
			// syncer holds after failures, which a nudge would wait out.
			cmds = append(cmds, m.syncNow())
		} else {
			m.setNotice("Discarded. The record shows the server's copy again; the journal keeps what you did.", levelOK)
			cmds = append(cmds, m.nudge())
		}
	}
	return tea.Batch(append(cmds, m.refreshAll())...)
}

// nudge tells the syncer that this process just wrote, so that the change
// goes out at once instead of at the syncer's next look at the database;
// unlike SyncNow it keeps to any backoff after failures and does not pull.
func (m *Model) nudge() tea.Cmd {
	s := m.opts.Syncer
	if s == nil || m.workOffline {
		return nil
	}
	return func() tea.Msg { s.Nudge(); return nil }
}

// syncNow asks the syncer for a full cycle at once, when there is one and
// it may.
func (m *Model) syncNow() tea.Cmd {
	s := m.opts.Syncer
	if s == nil || m.workOffline {
		return nil
	}
	return func() tea.Msg { s.SyncNow(); return nil }
}

// syncEvent follows the syncer: connectivity, progress, activity.
func (m *Model) syncEvent(e syncer.Event) tea.Cmd {
	now := m.sh.Now()
	prev := m.conn
	if e.Connectivity != "" {
		m.conn = e.Connectivity
		m.workOffline = e.Connectivity == syncer.WorkOffline
	}
	if m.conn != prev {
		switch m.conn {
		case syncer.Offline:
			m.setNotice(offlineSentence, levelWarn)
		case syncer.Degraded:
			m.setNotice("The server is reachable but failing. Your changes are saved on this computer and will be retried.", levelWarn)
		case syncer.LoggedOut:
			m.setNotice("The server did not accept your login. Your changes are safe here; run casefile login to sign in again.", levelError)
		case syncer.Online:
			if m.everOnline && (prev == syncer.Offline || prev == syncer.Degraded) {
				m.setNotice("Back online.", levelOK)
			}
		}
	}
	if m.conn == syncer.Online {
		m.everOnline = true
	}
	switch e.Kind {
	case syncer.EventProgress:
		if !m.progress.active {
			m.progress = progressState{active: true, start: now}
		}
		m.progress.done, m.progress.total = e.Done, e.Total
		if e.Total > 0 && e.Done >= e.Total {
			m.progress.active = false
		}
		return nil
	// What the syncer wrote reaches the screen through the data version
	// poll, which coalesces a burst of pages into one refresh.
	case syncer.EventPushed, syncer.EventPulled:
		m.activity.activity.add(now, e.Counts.Pushed+e.Counts.Pulled)
	case syncer.EventCycle:
		m.progress.active = false
		m.layout()
		if e.Err != "" && m.conn != syncer.Offline && m.conn != syncer.WorkOffline && e.Err != m.notice {
			m.setNotice(e.Err, levelWarn)
		}
	case syncer.EventError:
		if e.Err != "" {
			m.setNotice(e.Err, levelWarn)
		}
	}
	return nil
}

// key routes a key: the confirmation first, then help, then global keys
// (unless the active pane is taking text), then the active pane.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.sh.Keys
	if key.Matches(msg, k.ForceQuit) {
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
		if key.Matches(msg, k.Help, k.Back, k.Quit) {
			m.showHelp = false
		}
		return nil
	}
	if !m.capturing() {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help):
			m.showHelp = true
			return nil
		case key.Matches(msg, k.WorkOffline):
			return m.toggleOffline()
		case key.Matches(msg, k.SyncNow):
			return m.syncNowKey()
		case key.Matches(msg, k.NextScreen):
			return m.switchTo(m.screen + 1)
		case key.Matches(msg, k.PrevScreen):
			return m.switchTo(m.screen - 1)
		case key.Matches(msg, k.Records):
			return m.switchTo(screenRecords)
		case key.Matches(msg, k.Conflicts):
			return m.switchTo(screenConflicts)
		case key.Matches(msg, k.Backlog):
			return m.switchTo(screenBacklog)
		case key.Matches(msg, k.Activity):
			return m.switchTo(screenActivity)
		case key.Matches(msg, k.Back) && m.screen == screenRecords && m.detail != nil:
			m.detail = nil
			return m.records.reload(true)
		case key.Matches(msg, k.Back) && m.screen != screenRecords:
			return m.switchTo(screenRecords)
		}
	}
	return m.active().Update(msg)
}

func (m *Model) toggleOffline() tea.Cmd {
	s := m.opts.Syncer
	if s == nil {
		m.setNotice("No server is set up, so there is nothing to go offline from: everything stays on this computer.", levelInfo)
		return nil
	}
	m.workOffline = !m.workOffline
	m.toggledAt = m.sh.Now()
	on := m.workOffline
	if on {
		m.conn = syncer.WorkOffline
		m.setNotice("Working offline: nothing is sent or received until you press "+m.sh.Keys.WorkOffline.Help().Key+" again. Your changes are saved on this computer.", levelInfo)
	} else {
		m.conn = syncer.Syncing
		m.setNotice("Back online: syncing your changes now.", levelInfo)
	}
	m.offlineSeq++
	return setWorkOffline(m.sh.DB, s, m.offline, m.offlineSeq, on)
}

func (m *Model) syncNowKey() tea.Cmd {
	s := m.opts.Syncer
	switch {
	case s == nil:
		m.setNotice("No server is set up: everything stays on this computer. Run casefile login to sync.", levelInfo)
		return nil
	case m.workOffline:
		m.setNotice("You are working offline. Press "+m.sh.Keys.WorkOffline.Help().Key+" to go back online first.", levelInfo)
		return nil
	}
	m.setNotice("Syncing now…", levelInfo)
	return func() tea.Msg { s.SyncNow(); return nil }
}

// stateCount is the number of records in one state.
func (m *Model) stateCount(st model.SyncState) int { return m.status.Counts[st] }
