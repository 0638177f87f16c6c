package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/dustin/go-humanize"

	"casefile/model"
)

// Rows the frame takes around the body.
const (
	headerRows = 2
	tabRows    = 1
	footerRows = 2
)

// layout gives every pane its size: when the terminal is resized, a pane
// opens or the progress bar comes or goes, never while drawing.
func (m *Model) layout() {
	h := m.bodyHeight()
	for _, p := range m.panes.open() {
		p.SetSize(m.width, h)
	}
}

func (m *Model) bodyHeight() int {
	h := m.height - headerRows - tabRows - footerRows
	if m.head.progress.active {
		h--
	}
	return max(3, h)
}

// View draws the frame: header, tabs, the active screen, status and help.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "Casefile"
	return v
}

func (m *Model) render() string {
	if m.revoked.on {
		return m.revokedView()
	}
	if m.lock.locked {
		return m.lockView()
	}
	parts := []string{m.headerView()}
	if m.head.progress.active {
		parts = append(parts, m.progressView())
	}
	parts = append(parts, m.tabsView())
	body := m.active().View()
	if m.showHelp {
		body = m.fullHelpView()
	}
	if m.ask != nil {
		body = m.askView()
	}
	parts = append(parts, fitLines(body, m.bodyHeight()), m.noticeView(), m.shortHelpView())
	return strings.Join(parts, "\n")
}

// headerView is two lines: who and where with the connectivity, then the
// backlog and the last sync.
func (m *Model) headerView() string {
	s := m.sh.Styles
	w := m.width
	now := m.sh.Now()
	who := "this computer"
	if m.opts.User != "" || m.opts.Server != "" {
		who = m.opts.User + "@" + m.opts.Server
	}
	left := s.Title.Render(" Casefile") + s.Muted.Render("  "+who)
	conn := s.Local.Render("◇ local only")
	if m.opts.Syncer != nil {
		conn = s.connBadge(m.link.conn)
	}
	line1 := joinRight(left, conn+" ", w)

	backlog := strings.Join(m.backlogParts(), s.Muted.Render(" · "))
	var right string
	switch {
	case m.head.statusErr != nil:
		backlog = s.Error.Render("The sync state could not be read: " + m.head.statusErr.Error())
	case m.opts.Syncer == nil:
		if backlog == "" {
			backlog = s.Muted.Render("No server is set up: everything stays on this computer.")
		}
	case backlog == "":
		backlog = s.OK.Render(stateSymbol[model.StateSynced] + " everything synced")
	}
	if m.opts.Syncer != nil {
		right = s.Muted.Render("last synced " + ago(now, m.head.status.LastSync))
		if m.head.status.LastSync.IsZero() {
			right = s.Muted.Render("not synced yet")
		}
	}
	line2 := joinRight(" "+backlog, right+" ", w)
	return line1 + "\n" + line2
}

// backlogParts are the header's words for what is not synced yet: the
// records waiting, failed or in conflict, the changes that failed, the
// attached files to send or that failed. Empty only when nothing waits
// and nothing failed, the one case the header says everything synced.
func (m *Model) backlogParts() []string {
	s := m.sh.Styles
	st := m.head.status
	var parts []string
	add := func(n int, state model.SyncState, one, many string) {
		if n > 0 {
			parts = append(parts, s.State[state].Render(stateSymbol[state]+" "+plural(n, one, many)))
		}
	}
	add(m.stateCount(model.StatePending), model.StatePending, "saved offline", "saved offline")
	add(m.stateCount(model.StateSyncing), model.StateSyncing, "syncing", "syncing")
	add(m.stateCount(model.StateRetrying), model.StateRetrying, "retrying", "retrying")
	// Every failed record holds a failed change; a failed change whose
	// record left this device (its matter's access revoked) has no record
	// to count, and still waits for a retry or discard in the backlog.
	add(max(m.stateCount(model.StateFailed), st.FailedOps), model.StateFailed, "failed", "failed")
	add(st.Conflicts, model.StateConflict, "conflict", "conflicts")
	add(st.UploadsWaiting, model.StatePending, "file to upload", "files to upload")
	add(st.UploadsFailed, model.StateFailed, "file refused", "files refused")
	add(st.DownloadsFailed, model.StateFailed, "file not downloaded", "files not downloaded")
	if len(parts) == 0 {
		// A change no count above names still waits in the outbox.
		add(st.OutboxOps, model.StatePending, "change waiting", "changes waiting")
	}
	return parts
}

// progressView is the initial sync's bar with counts and time left.
func (m *Model) progressView() string {
	s := m.sh.Styles
	p := m.head.progress
	text := fmt.Sprintf(" %s of %s records", humanize.Comma(p.done), humanize.Comma(p.total))
	if eta, ok := p.eta(m.sh.Now()); ok {
		text += " · about " + roundETA(eta) + " left"
	}
	label := " First sync "
	bw := max(10, m.width-lipgloss.Width(label)-lipgloss.Width(text)-2)
	frac := 0.0
	if p.total > 0 {
		frac = min(1, float64(p.done)/float64(p.total))
	}
	bar := s.Progress
	bar.SetWidth(bw)
	// Drawn at the fraction done, without the bar's own animation: the
	// syncer's pages already move it in steps.
	return s.Muted.Render(label) + bar.ViewAs(frac) + s.Muted.Render(text)
}

func roundETA(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds())+1)
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes())+1)
	}
	return fmt.Sprintf("%d h", int(d.Hours())+1)
}

// tab is one tab of the tab line and where it is drawn.
type tab struct {
	screen screen
	x, w   int
	text   string
}

// tabs lays out the tab line: every tab with its name, or, when they do
// not fit in w cells, the names of all but the screen shown left out
// ("3 (5)"), so each tab stays in sight and can be clicked.
func (m *Model) tabs(w int) []tab {
	s := m.sh.Styles
	k := m.sh.Keys
	all := []struct {
		sc    screen
		b     key.Binding
		name  string
		count int
	}{
		{screenRecords, k.Records, "Records", 0},
		{screenConflicts, k.Conflicts, "Conflicts", m.head.status.Conflicts},
		{screenBacklog, k.Backlog, "Backlog", m.head.status.OutboxOps},
		{screenActivity, k.Activity, "Activity", 0},
		{screenAgenda, k.Agenda, "Agenda", 0},
	}
	lay := func(short bool) ([]tab, int) {
		var out []tab
		x := 0
		for _, t := range all {
			label := t.b.Help().Key
			if !short || m.screen == t.sc {
				label += " " + t.name
			}
			if t.count > 0 {
				label += " (" + humanize.Comma(int64(t.count)) + ")"
			}
			st := s.Tab
			if m.screen == t.sc {
				st = s.TabActive
			}
			text := st.Render(label)
			tw := lipgloss.Width(text)
			out = append(out, tab{screen: t.sc, x: x, w: tw, text: text})
			x += tw
		}
		return out, x
	}
	out, tw := lay(false)
	if tw > w {
		out, _ = lay(true)
	}
	return out
}

func (m *Model) tabsView() string {
	var b strings.Builder
	for _, t := range m.tabs(m.width) {
		b.WriteString(t.text)
	}
	tabs := truncate(b.String(), m.width)
	rule := max(0, m.width-lipgloss.Width(tabs))
	return tabs + m.sh.Styles.Rule.Render(strings.Repeat("─", rule))
}

func (m *Model) noticeView() string {
	s := m.sh.Styles
	if m.notice.text == "" {
		return ""
	}
	st := s.Info
	switch m.notice.level {
	case levelOK:
		st = s.OK
	case levelHint:
		st = s.Accent
	case levelWarn:
		st = s.Warn
	case levelError:
		st = s.Error
	}
	return st.Render(truncate(" "+safeLine(m.notice.text), m.width))
}

// packColumns lays out columns of key bindings side by side, starting a
// new row of columns when the next one would not fit in w cells.
func packColumns(s *Styles, cols [][]key.Binding, w int) []string {
	const gap = "   "
	var out, row []string
	rowW := 0
	flush := func() {
		out = append(out, row...)
		if len(row) > 0 {
			out = append(out, "")
		}
		row, rowW = nil, 0
	}
	for _, col := range cols {
		kw, dw := 0, 0
		for _, b := range col {
			if b.Enabled() {
				kw = max(kw, lipgloss.Width(b.Help().Key))
				dw = max(dw, lipgloss.Width(b.Help().Desc))
			}
		}
		if kw == 0 {
			continue
		}
		cw := kw + 2 + dw
		if rowW > 0 && rowW+len(gap)+cw > w {
			flush()
		}
		var block []string
		for _, b := range col {
			if b.Enabled() {
				block = append(block, s.Help.FullKey.Render(pad(b.Help().Key, kw))+"  "+s.Help.FullDesc.Render(pad(b.Help().Desc, dw)))
			}
		}
		for len(row) < len(block) {
			row = append(row, " "+strings.Repeat(" ", rowW))
		}
		for i := range row {
			cell := strings.Repeat(" ", cw)
			if i < len(block) {
				cell = block[i]
			}
			if rowW > 0 {
				cell = gap + cell
			}
			row[i] += cell
		}
		rowW += cw
		if rowW > cw {
			rowW += len(gap)
		}
	}
	flush()
	if len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

func (m *Model) askView() string {
	s := m.sh.Styles
	w := min(m.width-4, 70)
	q := s.Bold.Render(m.ask.question)
	keys := s.Muted.Render(m.sh.Keys.Confirm.Help().Key + " yes · " + m.sh.Keys.Cancel.Help().Key + " no")
	box := s.Dialog.Width(w).Render(q + "\n\n" + keys)
	return lipgloss.Place(m.width, m.bodyHeight(), lipgloss.Center, lipgloss.Center, box)
}
