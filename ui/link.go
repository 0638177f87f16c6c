package ui

import (
	"time"

	tea "charm.land/bubbletea/v2"

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

// setProgress shows or hides the progress bar, which takes a row from
// the panes.
func (m *Model) setProgress(p progressState) {
	was := m.head.progress.active
	m.head.progress = p
	if p.active != was {
		m.layout()
	}
}

// nudge tells the syncer that this process just wrote, so that the change
// goes out at once instead of at the syncer's next look at the database;
// unlike SyncNow it keeps to any backoff after failures and does not pull.
func (m *Model) nudge() tea.Cmd {
	s := m.opts.Syncer
	if s == nil || m.link.workOffline {
		return nil
	}
	return func() tea.Msg { s.Nudge(); return nil }
}

// syncNow asks the syncer for a full cycle at once, when there is one and
// it may.
func (m *Model) syncNow() tea.Cmd {
	s := m.opts.Syncer
	if s == nil || m.link.workOffline {
		return nil
	}
	return func() tea.Msg { s.SyncNow(); return nil }
}

// syncEvent follows the syncer: connectivity and progress. What the
// syncer wrote reaches the screen through the data version poll, which
// coalesces a burst of pages into one refresh.
func (m *Model) syncEvent(e syncer.Event) tea.Cmd {
	now := m.sh.Now()
	prev := m.link.conn
	if e.Connectivity != "" {
		m.link.conn = e.Connectivity
		m.link.workOffline = e.Connectivity == syncer.WorkOffline
	}
	if m.link.conn != prev {
		switch m.link.conn {
		case syncer.Offline:
			m.setNotice(offlineSentence, levelWarn)
		case syncer.Degraded:
			m.setNotice("The server is reachable but failing. Your changes are saved on this computer and will be retried.", levelWarn)
		case syncer.LoggedOut:
			m.setNotice("The server did not accept your login. Your changes are safe here; run casefile login to sign in again.", levelError)
		case syncer.Online:
			if m.link.everOnline && (prev == syncer.Offline || prev == syncer.Degraded) {
				m.setNotice("Back online.", levelOK)
			}
		}
	}
	if m.link.conn == syncer.Online {
		m.link.everOnline = true
	}
	m.sh.Conn = m.link.conn
	switch e.Kind {
	case syncer.EventProgress:
		p := m.head.progress
		if !p.active {
			p = progressState{active: true, start: now}
		}
		p.done, p.total = e.Done, e.Total
		if e.Total > 0 && e.Done >= e.Total {
			p.active = false
		}
		m.setProgress(p)
	case syncer.EventCycle:
		p := m.head.progress
		p.active = false
		m.setProgress(p)
		if e.Err != "" && m.link.conn != syncer.Offline && m.link.conn != syncer.WorkOffline && e.Err != m.notice.text {
			m.setNotice(e.Err, levelWarn)
		}
	case syncer.EventError:
		if e.Err != "" {
			m.setNotice(e.Err, levelWarn)
		}
	}
	return nil
}

func (m *Model) toggleOffline() tea.Cmd {
	s := m.opts.Syncer
	if s == nil {
		m.setNotice("No server is set up, so there is nothing to go offline from: everything stays on this computer.", levelInfo)
		return nil
	}
	l := &m.link
	l.workOffline = !l.workOffline
	l.toggledAt = m.sh.Now()
	on := l.workOffline
	if on {
		l.conn = syncer.WorkOffline
		m.setNotice("Working offline: nothing is sent or received until you press "+m.sh.Keys.WorkOffline.Help().Key+" again. Your changes are saved on this computer.", levelInfo)
	} else {
		l.conn = syncer.Syncing
		m.setNotice("Back online: syncing your changes now.", levelInfo)
	}
	l.offlineSeq++
	m.sh.Conn = l.conn
	return setWorkOffline(m.sh.DB, s, l.offline, l.offlineSeq, on)
}

func (m *Model) syncNowKey() tea.Cmd {
	s := m.opts.Syncer
	switch {
	case s == nil:
		m.setNotice("No server is set up: everything stays on this computer. Run casefile login to sync.", levelInfo)
		return nil
	case m.link.workOffline:
		m.setNotice("You are working offline. Press "+m.sh.Keys.WorkOffline.Help().Key+" to go back online first.", levelInfo)
		return nil
	}
	m.setNotice("Syncing now…", levelInfo)
	return func() tea.Msg { s.SyncNow(); return nil }
}
