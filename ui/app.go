// Package ui is Casefile's terminal UI: records by collection, detail,
// schema-generated forms, search, conflict review, the sync backlog and an
// activity feed, with the sync state always in sight. It reads and writes
// only through the local database and hears the syncer through its events.
package ui

import (
	"errors"
	"os"
	"time"

	"charm.land/bubbles/v2/help"
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

	Hint         string           // an extra line for the help screen (the demo's second window)
	Now          func() time.Time // the clock; time.Now when nil
	PollInterval time.Duration    // how often to look for other processes' writes; 300 ms when zero
	Getenv       func(string) string
}

// screen is one of the top-level tabs.
type screen int

const (
	screenRecords screen = iota
	screenConflicts
	screenBacklog
	screenActivity
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

// Model is the root of the terminal UI.
type Model struct {
	sh   *Shared
	opts Options

	width, height int
	dark          bool
	noColor       bool
	settings      Settings

	screen    screen
	records   *recordsPane
	detail    *detailPane
	editor    *editorPane
	conflicts *conflictsPane
	backlog   *backlogPane
	activity  *activityPane
	help      help.Model
	showHelp  bool
	ask       *askMsg

	status      localdb.Status
	statusID    int
	statusErr   error
	countsID    int
	mattersID   int
	conn        syncer.Connectivity
	workOffline bool
	everOnline  bool      // "back online" only after having been online
	toggledAt   time.Time // when work offline was last switched
	offlineSeq  int       // work offline switches made
	offline     *offlineSwitch
	progress    progressState
	dataVersion int64
	// pollAfterStatus holds the next data version look until the refresh
	// it started has read the status.
	pollAfterStatus bool

	notice      string
	noticeLevel noticeLevel
	noticeAt    time.Time
}

// New builds the UI over an open database.
func New(opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 300 * time.Millisecond
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	keys := DefaultKeyMap()
	m := &Model{opts: opts, width: 80, height: 24, dark: true, noColor: NoColor(opts.Getenv), offline: &offlineSwitch{}}
	m.sh = &Shared{DB: opts.DB, Schema: opts.DB.Schema(), Keys: &keys, Now: opts.Now, Tick: tea.Tick}
	m.applySettings(opts.Settings)
	m.records = newRecordsPane(m.sh)
	m.conflicts = newConflictsPane(m.sh)
	m.backlog = newBacklogPane(m.sh)
	m.activity = newActivityPane(m.sh)
	m.help = help.New()
	if opts.Hint != "" {
		m.setNotice(opts.Hint, levelHint)
	}
	m.help.Styles = m.sh.Styles.Help
	m.conn = syncer.LoggedOut
	if opts.Syncer != nil {
		m.conn = opts.Syncer.Connectivity()
		m.workOffline = m.conn == syncer.WorkOffline
		m.everOnline = m.conn == syncer.Online
		if m.workOffline && opts.Hint == "" {
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
	m.help.Styles = m.sh.Styles.Help
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

// refreshAll re-reads the header and the visible screen.
func (m *Model) refreshAll() tea.Cmd {
	m.statusID, m.countsID, m.mattersID = m.sh.newID(), m.sh.newID(), m.sh.newID()
	cmds := []tea.Cmd{
		loadStatus(m.sh.DB, m.statusID),
		loadCounts(m.sh.DB, m.countsID),
		loadMatters(m.sh.DB, m.mattersID),
	}
	cmds = append(cmds, m.records.reload(true))
	switch {
	case m.screen == screenRecords && m.detail != nil:
		cmds = append(cmds, m.detail.reload())
	case m.screen == screenConflicts:
		cmds = append(cmds, m.conflicts.reload())
	case m.screen == screenBacklog:
		cmds = append(cmds, m.backlog.reload())
	case m.screen == screenActivity:
		cmds = append(cmds, m.activity.reload())
	}
	return tea.Batch(cmds...)
}

func (m *Model) setNotice(text string, level noticeLevel) {
	m.notice, m.noticeLevel, m.noticeAt = text, level, m.sh.Now()
}

// active is the pane that gets keys.
func (m *Model) active() pane {
	if m.editor != nil {
		return m.editor
	}
	switch m.screen {
	case screenConflicts:
		return m.conflicts
	case screenBacklog:
		return m.backlog
	case screenActivity:
		return m.activity
	}
	if m.detail != nil {
		return m.detail
	}
	return m.records
}

// capturing reports whether the active pane takes typed letters.
func (m *Model) capturing() bool {
	c, ok := m.active().(interface{ Capturing() bool })
	return ok && c.Capturing()
}

func (m *Model) switchTo(s screen) tea.Cmd {
	m.screen = (s + screenCount) % screenCount
	switch m.screen {
	case screenConflicts:
		return m.conflicts.reload()
	case screenBacklog:
		return m.backlog.reload()
	case screenActivity:
		return m.activity.reload()
	}
	return m.records.reload(true)
}

// savedSentence tells people where a save went, given the connection.
func (m *Model) savedSentence() string {
	switch {
	case m.opts.Syncer == nil:
		return "Saved on this computer."
	case m.conn == syncer.WorkOffline:
		return "Saved on this computer. You are working offline: it syncs when you press " + m.sh.Keys.WorkOffline.Help().Key + " again."
	case m.conn == syncer.Offline:
		return offlineSentence
	case m.conn == syncer.LoggedOut:
		return "Saved on this computer. It syncs once you log in again."
	}
	return "Saved on this computer; sending it to the server now."
}

// offlineSentence is what people read when the network is gone.
const offlineSentence = "You are offline. Your changes are saved on this computer and will sync when you are back online."

// errMessage words a write error for the status line.
func errMessage(what string, err error) string {
	var probs model.Problems
	switch {
	case errors.As(err, &probs):
		return "Nothing was " + what + ": " + probs.Error() + "."
	case errors.Is(err, localdb.ErrNotFound):
		return "Nothing was " + what + ": the record is no longer here."
	case errors.Is(err, localdb.ErrConflict):
		return "Nothing was " + what + ": that conflict was already resolved."
	case errors.Is(err, localdb.ErrNoOp):
		return "Nothing was " + what + ": that change is no longer waiting."
	}
	return "Nothing was " + what + ": " + err.Error()
}
