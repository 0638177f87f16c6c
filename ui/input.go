package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// The text fields of the UI are the Bubbles text input (one line) and text
// area (long text), wrapped so that every pane uses them the same way:
// drawn in the theme's styles (re-applied when the theme changes), with a
// cursor that does not blink (a blink is a timer of its own, and a frame
// that changes by itself twice a second makes screens and tests unsteady),
// and without the clipboard keys, which would run a clipboard program: a
// terminal's own paste arrives as a paste message and is handled.

// lineInput is a one-line text field: search, filters, and every one-line
// field of the editor (text, number, date, date and time, tags).
type lineInput struct {
	m      textinput.Model
	styled *Styles // the styles last applied
}

func newLineInput(s *Styles, prompt, placeholder, value string) lineInput {
	m := textinput.New()
	m.Prompt, m.Placeholder = prompt, placeholder
	m.KeyMap.Paste.SetEnabled(false)
	// No suggestions are offered: tab and the arrows belong to the form.
	m.KeyMap.AcceptSuggestion.SetEnabled(false)
	m.KeyMap.NextSuggestion.SetEnabled(false)
	m.KeyMap.PrevSuggestion.SetEnabled(false)
	l := lineInput{m: m}
	l.restyle(s)
	l.SetValue(value)
	return l
}

// SetValue replaces the text (newlines become spaces) and puts the cursor
// at its end.
func (l *lineInput) SetValue(s string) {
	l.m.SetValue(s)
	l.m.CursorEnd()
}

// Value is the text.
func (l *lineInput) Value() string { return l.m.Value() }

// Focus shows the cursor and takes keys.
func (l *lineInput) Focus() { l.m.Focus() }

// Blur hides the cursor and stops taking keys.
func (l *lineInput) Blur() { l.m.Blur() }

// Update edits the text with a key or a paste; it reports whether the text
// changed.
func (l *lineInput) Update(msg tea.Msg) bool {
	before := l.m.Value()
	l.m, _ = l.m.Update(msg) // a static cursor asks for no commands
	return l.m.Value() != before
}

// View draws the field in exactly w cells, prompt included.
func (l *lineInput) View(s *Styles, w int) string {
	l.restyle(s)
	// The input draws its width plus one cell for the cursor.
	l.m.SetWidth(max(1, w-ansi.StringWidth(l.m.Prompt)-1))
	return pad(l.m.View(), w)
}

// restyle applies the theme's styles when they changed.
func (l *lineInput) restyle(s *Styles) {
	if l.styled != s {
		l.m.SetStyles(s.Input)
		l.styled = s
	}
}

// areaInput is a multi-line text field with soft wrap: the editor's long
// text fields.
type areaInput struct {
	m      textarea.Model
	styled *Styles
}

func newAreaInput(s *Styles, placeholder, value string) areaInput {
	m := textarea.New()
	m.Prompt, m.Placeholder = "", placeholder
	m.ShowLineNumbers = false
	m.EndOfBufferCharacter = '~'
	// No height limit: MaxHeight would also cap the number of lines typed.
	m.MaxHeight = 0
	m.KeyMap.Paste.SetEnabled(false)
	m.KeyMap.CopySelection.SetEnabled(false)
	a := areaInput{m: m}
	a.restyle(s)
	a.m.SetValue(strings.ReplaceAll(value, "\r\n", "\n"))
	a.m.MoveToBegin() // a long text is read from its start
	return a
}

// SetValue replaces the text and puts the cursor at its start.
func (a *areaInput) SetValue(s string) {
	a.m.SetValue(strings.ReplaceAll(s, "\r\n", "\n"))
	a.m.MoveToBegin()
}

// Value is the text, lines joined with "\n".
func (a *areaInput) Value() string { return a.m.Value() }

// Focus shows the cursor and takes keys, the area showing rows rows: its
// scrolling follows the cursor within that height from the first key on.
func (a *areaInput) Focus(rows int) {
	a.m.Focus()
	a.m.SetHeight(rows)
}

// Blur hides the cursor and stops taking keys.
func (a *areaInput) Blur() { a.m.Blur() }

// Update edits the text with a key or a paste; it reports whether the text
// changed.
func (a *areaInput) Update(msg tea.Msg) bool {
	before := a.m.Value()
	a.m, _ = a.m.Update(msg)
	return a.m.Value() != before
}

// AtTop reports whether the cursor is on the first row on screen of the
// text, so that moving up leaves the field.
func (a *areaInput) AtTop() bool { return a.m.Line() == 0 && a.m.LineInfo().RowOffset == 0 }

// AtBottom reports whether the cursor is on the last row of the text.
func (a *areaInput) AtBottom() bool {
	li := a.m.LineInfo()
	return a.m.Line() == a.m.LineCount()-1 && li.RowOffset >= li.Height-1
}

// Moves reports whether a key moves the cursor up or down inside the text
// rather than out of the field.
func (a *areaInput) Moves(msg tea.KeyPressMsg) bool {
	return (key.Matches(msg, a.m.KeyMap.LinePrevious) && !a.AtTop()) ||
		(key.Matches(msg, a.m.KeyMap.LineNext) && !a.AtBottom())
}

// View draws the field w cells wide and h rows high.
func (a *areaInput) View(s *Styles, w, h int) string {
	a.restyle(s)
	a.m.SetWidth(max(1, w-1)) // a spare cell for the cursor past a full row
	a.m.SetHeight(max(1, h))
	lines := strings.Split(strings.TrimSuffix(a.m.View(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad(l, w)
	}
	return strings.Join(lines, "\n")
}

// restyle applies the theme's styles when they changed.
func (a *areaInput) restyle(s *Styles) {
	if a.styled != s {
		a.m.SetStyles(s.Area)
		a.styled = s
	}
}

// Rows is how many rows the text takes at width w, wrapped as the area
// wraps it (at most limit: only the count up to it matters).
func (a *areaInput) Rows(w, limit int) int {
	n := 0
	for _, l := range strings.Split(a.m.Value(), "\n") {
		n += max(1, len(strings.Split(ansi.Wordwrap(l, max(1, w-1), ""), "\n")))
		if n >= limit {
			return limit
		}
	}
	return n
}
