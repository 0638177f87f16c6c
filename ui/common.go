package ui

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/dustin/go-humanize"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
	"casefile/syncer"
)

// Shared is what every pane reads: the database, the schema, the styles,
// the keys and the clock. The app owns it; a theme or key reload changes it
// in place, so every pane sees the change at its next View.
type Shared struct {
	DB     *localdb.DB
	Schema *model.Schema
	Styles *Styles
	Keys   *KeyMap
	Now    func() time.Time
	// Zone and DateOrder read and show dates and times as the person
	// does: in their zone, short ("Tue 15 Dec 09:30").
	Zone      *time.Location
	DateOrder model.DateOrder
	// Tick is tea.Tick; tests replace it to drive time by hand.
	Tick func(time.Duration, func(time.Time) tea.Msg) tea.Cmd

	// Files attaches, fetches and opens attached files (ui/attachments.go).
	Files Files
	// Transfers are the latest progress reports of the transfer queue, by
	// attachment id: the rate and time left of the files moving.
	Transfers map[string]seenProgress
	// Getenv reads the environment ($OPENER, $EDITOR).
	Getenv func(string) string
	// TempDir is where texts for the editor are written ("": the
	// system's temporary directory).
	TempDir string
	// Exec hands the terminal to another program (the person's editor);
	// tea.ExecProcess, which tests replace to run it without a terminal.
	Exec func(*exec.Cmd, tea.ExecCallback) tea.Cmd

	// Matters is every matter, kept fresh by the app, for the matter filter,
	// ref pickers and matter titles; mattersRead counts the times it was
	// read, so a cache built from it knows when to look again (a rename
	// changes no count).
	Matters     []model.Record
	mattersRead int
	// Conn is the syncer's connectivity as the app last heard it; ""
	// when no server is set up.
	Conn   syncer.Connectivity
	reqSeq int
	queue  []tea.Msg
}

// send hands a message to the app, which handles it before the next input:
// moving between screens must not race with the keys typed after it, as it
// would through a command, whose answer comes back later on its own.
func (s *Shared) send(msg tea.Msg) { s.queue = append(s.queue, msg) }

// setMatters takes every matter as just read.
func (s *Shared) setMatters(recs []model.Record) {
	s.Matters = recs
	s.mattersRead++
}

// notify shows a sentence in the status line.
func (s *Shared) notify(text string) { s.send(noticeMsg{text: text}) }

// warn shows a warning in the status line, which is always in sight.
func (s *Shared) warn(text string) { s.send(noticeMsg{text: text, level: levelWarn}) }

// newID returns a new request id; results tagged with an older id are stale.
func (s *Shared) newID() int {
	s.reqSeq++
	return s.reqSeq
}

// matterTitle is the title of a matter, or its id when it is not known here.
func (s *Shared) matterTitle(id string) string {
	c, _ := s.Schema.Collection(model.MatterCollection)
	for _, m := range s.Matters {
		if m.ID == id {
			return safeLine(m.Title(c))
		}
	}
	return id
}

// Common is embedded by every pane: its size and the shared pieces.
type Common struct {
	*Shared
	Width, Height int
}

// SetSize sets the pane's size in cells.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// pane is the shape of every screen and form of the UI. Update gets the
// input while the pane is active and every other message always: a pane
// claims the answers to its own requests (by request id) and the outcome
// messages it cares about, and ignores the rest. refresh reads again what
// the pane shows, after the data changed.
type pane interface {
	help.KeyMap
	Init() tea.Cmd
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	refresh() tea.Cmd
}

// stateSymbol is the symbol that goes with each record state, so a state
// is never told by colour alone.
var stateSymbol = map[model.SyncState]string{
	model.StatePending:  "↑",
	model.StateSyncing:  "↻",
	model.StateRetrying: "◷",
	model.StateFailed:   "✗",
	model.StateConflict: "≠",
	model.StateSynced:   "✓",
}

// badge renders a record state as symbol and word ("↑ saved offline").
func (s *Styles) badge(st model.SyncState) string {
	sym, ok := stateSymbol[st]
	if !ok {
		sym = "?"
	}
	return s.State[st].Render(sym + " " + st.Label())
}

// badgeWidth is the widest badge, in cells.
const badgeWidth = 15

// connLabel is the header's words for each connectivity state.
var connLabel = map[syncer.Connectivity]string{
	syncer.Online:      "● online",
	syncer.Syncing:     "↻ syncing",
	syncer.Offline:     "○ offline",
	syncer.Degraded:    "◐ degraded",
	syncer.WorkOffline: "◌ working offline",
	syncer.LoggedOut:   "✗ logged out",
}

// connBadge renders a connectivity state as symbol and word.
func (s *Styles) connBadge(c syncer.Connectivity) string {
	l, ok := connLabel[c]
	if !ok {
		l = "? " + string(c)
	}
	return s.Conn[c].Render(l)
}

// truncate cuts s to w cells with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// pad truncates or pads s with spaces to exactly w cells.
func pad(s string, w int) string {
	s = truncate(s, w)
	if n := lipgloss.Width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// display is a stored value as the screen shows it: a date and time in
// the person's zone, short ("Tue 15 Dec 09:30"), minutes as a duration
// ("1h30"); anything else as
// model.Format has it. Not yet made safe for the terminal.
func (s *Shared) display(f *model.Field, v any) string {
	if f != nil && f.Type == model.TypeDateTime {
		if str, ok := v.(string); ok {
			if t, err := model.ParseDateTime(str); err == nil {
				return model.FormatWhen(t, s.Zone, s.Now())
			}
		}
	}
	if str, ok := v.(string); ok && f != nil && f.Type == model.TypeEnum {
		return f.ChoiceLabel(str)
	}
	if n, ok := v.(float64); ok && f != nil && f.Unit == model.UnitMinutes {
		// Read back by ParseMinutes: the editor starts from this text.
		return model.FormatMinutes(n)
	}
	return model.Format(v)
}

// valueText is a value as the conflict review and other exact views show
// it: as stored, but an enum's choice by its label.
func valueText(f *model.Field, v any) string {
	if str, ok := v.(string); ok && f != nil && f.Type == model.TypeEnum {
		return f.ChoiceLabel(str)
	}
	return model.Format(v)
}

// input is what reading a typed date and time depends on.
func (s *Shared) input() model.Input {
	return model.Input{Now: s.Now(), Zone: s.Zone, Order: s.DateOrder}
}

// safeLine is stored text made safe for one line of the terminal: text
// from the server or another user is data, never terminal control.
func safeLine(s string) string { return safetext.Line(s) }

// oneLine turns a stored value into a single line for a table cell: line
// breaks as ⏎, every other control character shown as an escape.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r\n", " ⏎ ")
	return safeLine(strings.ReplaceAll(s, "\n", " ⏎ "))
}

// safeText is stored text for several lines: line breaks kept, every
// other control character shown as an escape.
func safeText(s string) string { return safetext.Text(s) }

// joinRight places right at the end of a line of width w that starts with left.
func joinRight(left, right string, w int) string {
	lw, rw := lipgloss.Width(left), lipgloss.Width(right)
	if lw+rw+1 > w {
		left = truncate(left, max(0, w-rw-1))
		lw = lipgloss.Width(left)
	}
	gap := max(1, w-lw-rw)
	return left + strings.Repeat(" ", gap) + right
}

// fitLines makes text exactly h lines (cut or padded with empty lines).
func fitLines(text string, h int) string {
	if h <= 0 {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// ago says how long ago t was, for people: "just now", "2 min ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.Local().Format("2 Jan 15:04")
}

// in says how long until t, for people: "now", "in 12 s", "in 3 min".
func in(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("in %d s", int(d.Seconds()+0.999))
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d.Minutes()+0.999))
	}
	return fmt.Sprintf("in %d h", int(d.Hours()+0.999))
}

// plural says "1 note", "3 notes".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return humanize.Comma(int64(n)) + " " + many
}

// scrollInto returns the first visible row so that cursor stays within a
// window of h rows starting at top.
func scrollInto(top, cursor, h int) int {
	if h <= 0 {
		return cursor
	}
	if cursor < top {
		return cursor
	}
	if cursor >= top+h {
		return cursor - h + 1
	}
	return top
}

// clamp keeps v within [lo, hi]; hi below lo gives lo.
func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// fieldLabel is a field's label as the UI shows it: a ref field is named
// after what it points to ("matter", not "matter id").
func fieldLabel(f *model.Field) string {
	if f.Type == model.TypeRef {
		return strings.TrimSuffix(f.Label, " id")
	}
	return f.Label
}

// sentence starts s with a capital letter: the journal's summaries are
// phrases, the screen shows them as sentences.
func sentence(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+utf8.RuneLen(r):]
	}
	return s
}
