package ui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"casefile/model"
	"casefile/syncer"
)

// The themes the config file may name.
const (
	ThemeAuto  = "auto"  // follow the terminal's background
	ThemeDark  = "dark"  // colours for a dark background
	ThemeLight = "light" // colours for a light background
)

// palette is one theme's colours for a light and a dark background.
type palette struct {
	text, muted, faint, accent, border, selBg color.Color
	ok, warn, bad, busy, conflict, info       color.Color
}

func newPalette(dark bool) palette {
	ld := lipgloss.LightDark(dark)
	c := lipgloss.Color
	return palette{
		text:     ld(c("#1F2328"), c("#E6EDF3")),
		muted:    ld(c("#59636E"), c("#9198A1")),
		faint:    ld(c("#8C959F"), c("#6E7681")),
		accent:   ld(c("#0550AE"), c("#79C0FF")),
		border:   ld(c("#D0D7DE"), c("#3D444D")),
		selBg:    ld(c("#DDF4FF"), c("#1F3A5F")),
		ok:       ld(c("#1A7F37"), c("#56D364")),
		warn:     ld(c("#9A6700"), c("#E3B341")),
		bad:      ld(c("#CF222E"), c("#FF7B72")),
		busy:     ld(c("#0969DA"), c("#58A6FF")),
		conflict: ld(c("#8250DF"), c("#D2A8FF")),
		info:     ld(c("#1B7C83"), c("#76E3EA")),
	}
}

// Styles is every style the UI draws with, built once per theme by
// NewStyles; views never build styles of their own.
type Styles struct {
	Plain bool // no colours: NO_COLOR is set

	Title, Muted, Faint, Bold, Accent        lipgloss.Style
	OK, Warn, Error, Info                    lipgloss.Style
	Tab, TabActive                           lipgloss.Style
	Rule                                     lipgloss.Style
	SideItem, SideActive                     lipgloss.Style
	ColHeader, Row, RowSelected, Placeholder lipgloss.Style
	Label, LabelFocused, FieldError, Hint    lipgloss.Style
	Value, ValueFocused                      lipgloss.Style
	DiffChanged, DiffSame, Chosen            lipgloss.Style
	Dialog, DialogTitle                      lipgloss.Style
	Group, Spark                             lipgloss.Style
	ProgressFull, ProgressEmpty              lipgloss.Style

	State map[model.SyncState]lipgloss.Style
	Conn  map[syncer.Connectivity]lipgloss.Style
	Local lipgloss.Style // the header's "local only" badge

	Help help.Styles

	// The Bubbles text fields and progress bar, in the same colours; a view
	// copies Progress and sets its width.
	Input    textinput.Styles
	Area     textarea.Styles
	Progress progress.Model
}

// NewStyles builds the styles of a theme for a dark or light background.
// noColor (NO_COLOR set) drops every colour: states stay readable by their
// symbols and words.
func NewStyles(theme string, dark, noColor bool) *Styles {
	switch theme {
	case ThemeDark:
		dark = true
	case ThemeLight:
		dark = false
	}
	plain := noColor
	p := newPalette(dark)
	ns := lipgloss.NewStyle
	fg := func(c color.Color) lipgloss.Style {
		if plain {
			return ns()
		}
		return ns().Foreground(c)
	}
	s := &Styles{Plain: plain}
	s.Title = fg(p.accent).Bold(true)
	s.Muted = fg(p.muted)
	s.Faint = fg(p.faint)
	if plain {
		s.Faint = ns().Faint(true)
	}
	s.Bold = ns().Bold(true)
	s.Accent = fg(p.accent)
	s.OK = fg(p.ok)
	s.Warn = fg(p.warn).Bold(true)
	s.Error = fg(p.bad).Bold(true)
	s.Info = fg(p.info)
	s.Tab = fg(p.muted).Padding(0, 1)
	s.TabActive = fg(p.accent).Bold(true).Underline(true).Padding(0, 1)
	s.Rule = fg(p.border)
	s.SideItem = fg(p.text)
	s.SideActive = fg(p.accent).Bold(true)
	s.ColHeader = fg(p.muted).Bold(true)
	s.Row = fg(p.text)
	s.RowSelected = s.selected(p, plain)
	s.Placeholder = fg(p.faint)
	s.Label = fg(p.muted)
	s.LabelFocused = fg(p.accent).Bold(true)
	s.FieldError = fg(p.bad)
	s.Hint = fg(p.faint)
	s.Value = fg(p.text)
	s.ValueFocused = fg(p.text).Bold(true)
	s.DiffChanged = fg(p.warn).Bold(true)
	s.DiffSame = fg(p.muted)
	s.Chosen = fg(p.ok).Bold(true)
	s.Dialog = ns().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	if !plain {
		s.Dialog = s.Dialog.BorderForeground(p.accent)
	}
	s.DialogTitle = fg(p.accent).Bold(true)
	s.Group = fg(p.accent).Bold(true)
	s.Spark = fg(p.busy)
	s.ProgressFull = fg(p.busy)
	s.ProgressEmpty = fg(p.border)

	s.State = map[model.SyncState]lipgloss.Style{
		model.StatePending:  fg(p.warn),
		model.StateSyncing:  fg(p.busy),
		model.StateRetrying: fg(p.warn),
		model.StateFailed:   fg(p.bad).Bold(true),
		model.StateConflict: fg(p.conflict).Bold(true),
		model.StateSynced:   fg(p.ok),
	}
	s.Conn = map[syncer.Connectivity]lipgloss.Style{
		syncer.Online:      fg(p.ok).Bold(true),
		syncer.Syncing:     fg(p.busy).Bold(true),
		syncer.Offline:     fg(p.warn).Bold(true),
		syncer.Degraded:    fg(p.bad).Bold(true),
		syncer.WorkOffline: fg(p.info).Bold(true),
		syncer.LoggedOut:   fg(p.bad).Bold(true),
	}
	s.Local = fg(p.info).Bold(true)

	s.Input, s.Area = s.inputStyles(), s.areaStyles()
	s.Progress = progress.New(
		progress.WithColors(s.ProgressFull.GetForeground()),
		progress.WithFillCharacters('█', '░'),
		progress.WithoutPercentage(),
	)
	s.Progress.EmptyColor = s.ProgressEmpty.GetForeground()

	s.Help = help.DefaultStyles(dark)
	if plain {
		s.Help = help.Styles{ShortKey: ns().Bold(true), FullKey: ns().Bold(true)}
	} else {
		s.Help.ShortKey = fg(p.accent)
		s.Help.FullKey = fg(p.accent)
		s.Help.ShortDesc = fg(p.muted)
		s.Help.FullDesc = fg(p.muted)
	}
	return s
}

// inputStyles are the one-line text fields' styles: the editor's value
// styles, a faint placeholder, and a cursor in reverse video with no colour
// of its own (so it shows under NO_COLOR too) that does not blink.
func (s *Styles) inputStyles() textinput.Styles {
	state := func(text lipgloss.Style) textinput.StyleState {
		return textinput.StyleState{Text: text, Placeholder: s.Placeholder, Suggestion: s.Placeholder, Prompt: s.Muted}
	}
	return textinput.Styles{
		Focused: state(s.ValueFocused),
		Blurred: state(s.Value),
		Cursor:  textinput.CursorStyle{Shape: tea.CursorBlock},
	}
}

// areaStyles are the long text fields' styles, like the one-line fields'
// (no highlighted cursor line), with "~" in faint marking rows past the end.
func (s *Styles) areaStyles() textarea.Styles {
	state := func(text lipgloss.Style) textarea.StyleState {
		return textarea.StyleState{
			Text: text, CursorLine: text, Placeholder: s.Placeholder,
			EndOfBuffer: s.Faint, Selection: s.RowSelected,
		}
	}
	return textarea.Styles{
		Focused: state(s.ValueFocused),
		Blurred: state(s.Value),
		Cursor:  textarea.CursorStyle{Shape: tea.CursorBlock},
	}
}

func (s *Styles) selected(p palette, plain bool) lipgloss.Style {
	if plain {
		return lipgloss.NewStyle().Reverse(true)
	}
	return lipgloss.NewStyle().Foreground(p.text).Background(p.selBg).Bold(true)
}

// NoColor reports whether the environment asks for no colour (NO_COLOR set
// to anything non-empty, see no-color.org).
func NoColor(getenv func(string) string) bool {
	return strings.TrimSpace(getenv("NO_COLOR")) != ""
}
