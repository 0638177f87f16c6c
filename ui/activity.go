package ui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/syncer"
)

// Sparkline shape: 40 buckets of 15 seconds, the last ten minutes.
const (
	sparkBucket = 15 * time.Second
	sparkLen    = 40
	feedLimit   = 300 // journal entries the feed reads
)

// series is a value per time bucket over the last minutes, oldest first.
type series struct {
	vals   [sparkLen]int
	newest time.Time // start of the newest bucket
}

// roll moves the series forward to now, emptying buckets that passed.
func (s *series) roll(now time.Time) {
	b := now.Truncate(sparkBucket)
	if s.newest.IsZero() {
		s.newest = b
		return
	}
	steps := int(b.Sub(s.newest) / sparkBucket)
	if steps <= 0 {
		return
	}
	if steps >= sparkLen {
		s.vals = [sparkLen]int{}
	} else {
		copy(s.vals[:], s.vals[steps:])
		clear(s.vals[sparkLen-steps:])
	}
	s.newest = b
}

// add counts n into the current bucket.
func (s *series) add(now time.Time, n int) {
	s.roll(now)
	s.vals[sparkLen-1] += n
}

// peak keeps the largest value seen in the current bucket.
func (s *series) peak(now time.Time, n int) {
	s.roll(now)
	s.vals[sparkLen-1] = max(s.vals[sparkLen-1], n)
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as bars; zero is a blank so quiet time shows.
func sparkline(vals []int) string {
	top := 0
	for _, v := range vals {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vals {
		switch {
		case v <= 0 || top == 0:
			b.WriteRune(' ')
		default:
			b.WriteRune(sparkRunes[min(len(sparkRunes)-1, (v*len(sparkRunes)-1)/top)])
		}
	}
	return b.String()
}

// activityPane is the journal as a live feed, newest first, under two
// sparklines: sync activity and backlog over the last ten minutes.
type activityPane struct {
	Common
	entries  []localdb.JournalEntry
	titles   map[string]string // record id → title
	activity series            // records pushed and pulled
	backlog  series            // ops waiting, sampled
	// list is the feed scrolled line by line; the first line in sight is
	// the one enter opens.
	list   scroller
	loaded bool
	err    error
	reqID  int
}

func newActivityPane(sh *Shared) *activityPane {
	l := newScroller(sh.Keys)
	l.follow = true
	return &activityPane{Common: Common{Shared: sh}, list: l}
}

// SetSize sizes the pane; paging moves half a screen.
func (p *activityPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.SetRows(h)
	p.list.page = max(1, h/2)
}

// Init reads the journal.
func (p *activityPane) Init() tea.Cmd { return p.refresh() }

func (p *activityPane) refresh() tea.Cmd {
	p.reqID = p.newID()
	return loadJournal(p.DB, p.Schema, feedLimit, p.reqID)
}

// Update handles the journal answer, the syncer's activity, the backlog
// samples of the status and scrolling.
func (p *activityPane) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	switch msg := msg.(type) {
	case journalMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.err = msg.err
		if msg.err == nil {
			p.entries, p.titles, p.loaded = msg.entries, msg.titles, true
			p.list.SetLen(len(p.entries))
		}
	case statusMsg:
		// The app passes on only the answer to its latest status read.
		if msg.err == nil {
			p.backlog.peak(p.Now(), msg.status.OutboxOps)
		}
	case syncMsg:
		if e := syncer.Event(msg); e.Kind == syncer.EventPushed || e.Kind == syncer.EventPulled {
			p.activity.add(p.Now(), e.Counts.Pushed+e.Counts.Pulled)
		}
	case tea.MouseWheelMsg:
		p.list.Update(msg)
	case tea.MouseClickMsg:
		// A click on an entry of the feed (under the sparklines and the
		// rule) opens its record, as enter does on the first one.
		i := p.list.Top() + msg.Y - activityHeadRows
		if msg.Y >= activityHeadRows && i < len(p.entries) && p.entries[i].RecordID != "" {
			p.send(openRecordMsg{id: p.entries[i].RecordID})
		}
	case tea.KeyPressMsg:
		if p.list.Update(msg) {
			return nil
		}
		if key.Matches(msg, k.Open) {
			i := p.list.Cursor()
			if i < len(p.entries) && p.entries[i].RecordID != "" {
				id := p.entries[i].RecordID
				p.send(openRecordMsg{id: id})
			}
		}
	}
	return nil
}

// activityHeadRows are the sparklines and the rule above the feed.
const activityHeadRows = 3

// View draws the sparklines and the feed.
func (p *activityPane) View() string {
	s := p.Styles
	w := p.Width
	now := p.Now()
	p.activity.roll(now)
	p.backlog.roll(now)
	sw := min(sparkLen, max(8, w-26))
	label := func(t string) string { return s.Muted.Render(pad(" "+t, 16)) }
	lines := []string{
		label("sync activity") + s.Spark.Render("▕"+sparkline(p.activity.vals[sparkLen-sw:])+"▏") + s.Muted.Render(" last 10 min"),
		label("backlog") + s.Spark.Render("▕"+sparkline(p.backlog.vals[sparkLen-sw:])+"▏") + s.Muted.Render(" waiting ops"),
		s.Rule.Render(strings.Repeat("─", w)),
	}
	switch {
	case p.err != nil:
		lines = append(lines, s.Error.Render(" The journal could not be read: "+p.err.Error()))
	case !p.loaded:
		lines = append(lines, s.Muted.Render(" Loading…"))
	case len(p.entries) == 0:
		lines = append(lines, s.Muted.Render(" Nothing has happened yet. Saves, pushes, merges and pulls appear here as they happen."))
	}
	h := max(1, p.Height-len(lines))
	top := p.list.Top()
	for i := top; i < len(p.entries) && i < top+h; i++ {
		e := p.entries[i]
		line := journalLine(s, e, now, w, p.titles[e.RecordID], true)
		if i == top { // the line enter opens
			line = s.RowSelected.Render(pad(line, w))
		}
		lines = append(lines, line)
	}
	return fitLines(strings.Join(lines, "\n"), p.Height)
}

// ShortHelp lists the feed's keys.
func (p *activityPane) ShortHelp() []key.Binding {
	k := p.Keys
	return []key.Binding{k.Up, k.Down, k.Top}
}

// FullHelp lists every key of the feed.
func (p *activityPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{append(p.list.Bindings(), k.Open)}
}
