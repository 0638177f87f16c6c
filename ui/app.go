// Package ui is Casefile's terminal UI: records by collection, detail,
// schema-generated forms, search, conflict review, the sync backlog and an
// activity feed, with the sync state always in sight. It reads and writes
// only through the local database and hears the syncer through its events.
package ui

import (
	"errors"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
)

// Syncer is what the UI needs of the background syncer.
type Syncer interface {
	Events() <-chan syncer.Event
	// SyncNow runs a full cycle at once, past any backoff: a person asked.
	SyncNow()
	// Nudge asks for a push soon after a write of this process, without
	// waiting for the syncer's own look at the database.
	Nudge()
	SetWorkOffline(bool)
	Connectivity() syncer.Connectivity
}

// Settings are what the config file may change while the UI runs.
type Settings struct {
	Theme string              // ThemeAuto (default), ThemeDark or ThemeLight
	Keys  map[string][]string // action (see KeyNames) → keys
}

// Options configure the UI.
type Options struct {
	DB     *localdb.DB
	Syncer Syncer // nil: local only, no server configured
	User   string // who is logged in, for the header
	Server string // the server's address, for the header

	Settings Settings
	// ConfigChanged ticks when the config file changes (see WatchFile);
	// Reload then reads the settings again.
	ConfigChanged <-chan struct{}
	Reload        func() (Settings, error)

	// Zone is the person's time zone for showing and reading dates and
	// times; time.Local when nil. DateOrder is how they write a day in
	// digits (15/12 or 12/15); DMY when empty.
	Zone      *time.Location
	DateOrder model.DateOrder

	Hint         string           // an extra line for the help screen (the demo's second window)
	Now          func() time.Time // the clock; time.Now when nil
	PollInterval time.Duration    // how often to look for other processes' writes; 300 ms when zero
	Getenv       func(string) string
	Lock         *LockOptions // the idle lock and `casefile lock`; nil: never locks
	// Wipe obeys a revocation (syncer.EventRevoked): it stops the
	// background work, keeps the unsent changes in an encrypted export,
	// deletes the device's copy and says so in a sentence. The UI shows
	// nothing of the data from then on and reads the database no more.
	Wipe func() (string, error)
	// Files: the device's file store and transfer queue, for attaching,
	// downloading and opening files.
	Files Files
	// TempDir is where the texts edited in $EDITOR are written, in
	// plaintext: a directory of this UI's own, removed when it ends; the
	// system's temporary directory when empty.
	TempDir string
}

// screen is one of the top-level tabs.
type screen int

const (
	screenRecords screen = iota
	screenConflicts
	screenBacklog
	screenActivity
	screenAgenda
	screenCount
)

// Messages of the app itself.
type (
	pollMsg     struct{}
	clockMsg    struct{}
	syncMsg     syncer.Event
	syncEndMsg  struct{}
	configMsg   struct{}
	settingsMsg struct {
		s   Settings
		err error
	}
	noticeMsg struct {
		text  string
		level noticeLevel
	}
)

type noticeLevel int

const (
	levelInfo noticeLevel = iota // fades after a few seconds
	levelOK                      // fades after a few seconds
	levelHint                    // stays until replaced
	levelWarn
	levelError
)

// Model is the root of the terminal UI. It routes and lays out: input goes
// to the active pane, every other message to the panes, each of which
// claims what it asked for; the root itself keeps only the frame (header,
// tabs, status line, help, the confirmation) and the link to the syncer.
type Model struct {
	sh   *Shared
	opts Options

	width, height int
	dark          bool
	noColor       bool
	settings      Settings

	screen screen
	panes
	showHelp bool
	helpList scroller // the help's first line in sight
	ask      *askMsg
	// held is the input typed while a pane waits for a read to act on an
	// earlier key (see awaiting), in order.
	held []tea.Msg

	head   headerState
	link   linkState
	poll   pollState
	notice statusLine
	lock   lockState // see lock.go
	// revoked: the device was revoked; see revoked.go
	revoked revokedState
}

// panes are the screens and forms of the UI; detail and editor exist only
// while open.
type panes struct {
	records   *recordsPane
	detail    *detailPane
	editor    *editorPane
	conflicts *conflictsPane
	backlog   *backlogPane
	activity  *activityPane
	agenda    *agendaPane
	hub       *hubPane // a matter opened from the records screen (ui/hub.go)
}

// open lists the panes that exist.
func (ps *panes) open() []pane {
	out := []pane{ps.records, ps.conflicts, ps.backlog, ps.activity, ps.agenda}
	if ps.hub != nil {
		out = append(out, ps.hub)
	}
	if ps.detail != nil {
		out = append(out, ps.detail)
	}
	if ps.editor != nil {
		out = append(out, ps.editor)
	}
	return out
}

// broadcast offers a message to every pane; each claims the messages it
// knows (and the answers to its own requests) and ignores the rest.
func (ps *panes) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range ps.open() {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

// headerState is what the header shows: the local database's sync state
// and the initial sync's progress.
type headerState struct {
	status    localdb.Status
	statusID  int
	statusErr error
	mattersID int
	progress  progressState
}

// linkState is the app's view of the syncer: connectivity and the work
// offline switch.
type linkState struct {
	conn        syncer.Connectivity
	workOffline bool
	everOnline  bool      // "back online" only after having been online
	toggledAt   time.Time // when work offline was last switched
	offlineSeq  int       // work offline switches made
	offline     *offlineSwitch
}

// pollState follows the database's data version, to notice writes of
// other processes and of the syncer.
type pollState struct {
	dataVersion int64
	// afterStatus holds the next data version look until the refresh it
	// started has read the status.
	afterStatus bool
}

// statusLine is the sentence above the key hints.
type statusLine struct {
	text  string
	level noticeLevel
	at    time.Time
}

// New builds the UI over an open database.
func New(opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = syncer.DefaultWatchInterval
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Zone == nil {
		opts.Zone = time.Local
	}
	if opts.DateOrder == "" {
		opts.DateOrder = model.DMY
	}
	keys := DefaultKeyMap()
	m := &Model{opts: opts, width: 80, height: 24, dark: true, noColor: NoColor(opts.Getenv), link: linkState{offline: &offlineSwitch{}}}
	m.sh = &Shared{DB: opts.DB, Schema: opts.DB.Schema(), Keys: &keys, Now: opts.Now, Tick: tea.Tick, Files: opts.Files, Getenv: opts.Getenv, TempDir: opts.TempDir, Exec: tea.ExecProcess, Zone: opts.Zone, DateOrder: opts.DateOrder}
	m.applySettings(opts.Settings)
	m.records = newRecordsPane(m.sh)
	m.conflicts = newConflictsPane(m.sh)
	m.backlog = newBacklogPane(m.sh)
	m.activity = newActivityPane(m.sh)
	m.agenda = newAgendaPane(m.sh)
	m.helpList = newScroller(m.sh.Keys)
	m.helpList.follow = true
	if opts.Hint != "" {
		m.setNotice(opts.Hint, levelHint)
	}
	m.link.conn = syncer.LoggedOut
	if opts.Syncer != nil {
		m.link.conn = opts.Syncer.Connectivity()
		m.link.workOffline = m.link.conn == syncer.WorkOffline
		m.link.everOnline = m.link.conn == syncer.Online
		m.sh.Conn = m.link.conn
		if m.link.workOffline && opts.Hint == "" {
			m.setNotice("You are still working offline, as you chose: nothing is sent or received until you press "+
				m.sh.Keys.WorkOffline.Help().Key+".", levelInfo)
		}
	}
	m.layout()
	return m
}

// applySettings rebuilds keys and styles from settings; a bad key override
// keeps the previous keys and says why.
func (m *Model) applySettings(s Settings) {
	keys := DefaultKeyMap()
	if err := keys.Override(s.Keys); err != nil {
		m.setNotice("The key settings in the config file were not used: "+err.Error()+".", levelWarn)
	} else {
		*m.sh.Keys = keys
	}
	switch s.Theme {
	case "", ThemeAuto, ThemeDark, ThemeLight:
	default:
		m.setNotice("The config file names an unknown theme “"+s.Theme+"”; using auto (themes: auto, dark, light).", levelWarn)
		s.Theme = ThemeAuto
	}
	m.settings = s
	m.sh.Styles = NewStyles(s.Theme, m.dark, m.noColor)
}

// Init starts the first reads, the clocks and the listeners.
func (m *Model) Init() tea.Cmd {
	// The first reads wait for the data version they start from, so a
	// write landing between the reads and the first look is not missed.
	cmds := []tea.Cmd{
		tea.RequestBackgroundColor,
		readDataVersion(m.sh.DB),
		m.clockTick(),
	}
	if m.opts.Syncer != nil {
		cmds = append(cmds, waitSync(m.opts.Syncer.Events()))
	}
	if m.opts.ConfigChanged != nil && m.opts.Reload != nil {
		cmds = append(cmds, waitConfig(m.opts.ConfigChanged))
	}
	if m.opts.Lock != nil && m.opts.Lock.Requests != nil {
		cmds = append(cmds, waitLock(m.opts.Lock.Requests))
	}
	if m.opts.Files.Progress != nil {
		cmds = append(cmds, waitProgress(m.opts.Files.Progress))
	}
	return tea.Batch(cmds...)
}

func (m *Model) pollTick() tea.Cmd {
	return m.sh.Tick(m.opts.PollInterval, func(time.Time) tea.Msg { return pollMsg{} })
}

func (m *Model) clockTick() tea.Cmd {
	return m.sh.Tick(time.Second, func(time.Time) tea.Msg { return clockMsg{} })
}

// waitSync waits for the syncer's next event; the app re-arms it.
func waitSync(ch <-chan syncer.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return syncEndMsg{}
		}
		return syncMsg(e)
	}
}

// waitConfig waits for the config file to change; the app re-arms it
// until the channel closes.
func waitConfig(ch <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		if _, ok := <-ch; !ok {
			return nil
		}
		return configMsg{}
	}
}

// refreshAll re-reads the header, the records list, an open record and
// the screen shown: after any change, here or by the syncer or another
// process, every pane a person can go back to shows what the database
// holds (a record left open under the conflict review shows the
// resolution, not the value it had before).
func (m *Model) refreshAll() tea.Cmd {
	m.head.statusID, m.head.mattersID = m.sh.newID(), m.sh.newID()
	cmds := []tea.Cmd{
		loadStatus(m.sh.DB, m.head.statusID),
		loadMatters(m.sh.DB, m.head.mattersID),
		m.records.refresh(),
	}
	if m.detail != nil {
		cmds = append(cmds, m.detail.refresh())
	}
	if m.hub != nil {
		cmds = append(cmds, m.hub.refresh())
	}
	if p := m.shown(); p != pane(m.records) && p != pane(m.detail) && p != pane(m.hub) {
		cmds = append(cmds, p.refresh())
	}
	return tea.Batch(cmds...)
}

func (m *Model) setNotice(text string, level noticeLevel) {
	m.notice = statusLine{text: text, level: level, at: m.sh.Now()}
}

// shown is the pane of the current screen, under the editor if it is open.
func (m *Model) shown() pane {
	switch m.screen {
	case screenConflicts:
		return m.conflicts
	case screenBacklog:
		return m.backlog
	case screenActivity:
		return m.activity
	case screenAgenda:
		return m.agenda
	}
	if m.detail != nil {
		return m.detail
	}
	if m.hub != nil {
		return m.hub
	}
	return m.records
}

// active is the pane that gets keys.
func (m *Model) active() pane {
	if m.editor != nil {
		return m.editor
	}
	return m.shown()
}

// capturing reports whether the active pane takes typed letters.
func (m *Model) capturing() bool {
	c, ok := m.active().(interface{ Capturing() bool })
	return ok && c.Capturing()
}

func (m *Model) switchTo(s screen) tea.Cmd {
	m.screen = (s + screenCount) % screenCount
	if m.screen == screenRecords {
		if m.detail != nil {
			return tea.Batch(m.records.reload(true), m.detail.refresh())
		}
		if m.hub != nil {
			return tea.Batch(m.records.reload(true), m.hub.refresh())
		}
		return m.records.reload(true)
	}
	return m.shown().refresh()
}

// savedSentence tells people where a save went, given the connection.
func (m *Model) savedSentence() string {
	switch {
	case m.opts.Syncer == nil:
		return "Saved on this computer."
	case m.link.conn == syncer.WorkOffline:
		return "Saved on this computer. You are working offline: it syncs when you press " + m.sh.Keys.WorkOffline.Help().Key + " again."
	case m.link.conn == syncer.Offline:
		return offlineSentence
	case m.link.conn == syncer.LoggedOut:
		return "Saved on this computer. It syncs once you log in again."
	}
	return "Saved on this computer; sending it to the server now."
}

// offlineSentence is what people read when the network is gone.
const offlineSentence = "You are offline. Your changes are saved on this computer and will sync when you are back online."

// errMessage words a write error for the status line.
func errMessage(what string, err error) string {
	var probs model.Problems
	var holds *localdb.MatterHoldsError
	switch {
	case errors.As(err, &probs):
		return "Nothing was " + what + ": " + probs.Error() + "."
	case errors.Is(err, localdb.ErrNotFound):
		return "Nothing was " + what + ": the record is no longer here."
	case errors.Is(err, localdb.ErrConflict):
		return "Nothing was " + what + ": that conflict was already resolved."
	case errors.Is(err, localdb.ErrNoOp):
		return "Nothing was " + what + ": that change is no longer waiting."
	case errors.As(err, &holds):
		return "Nothing was " + what + ": the matter holds " + localdb.HoldsPhrase(holds.Counts) + " now; delete it again to delete them with it."
	}
	return "Nothing was " + what + ": " + err.Error()
}
