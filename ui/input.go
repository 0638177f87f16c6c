package ui

import (
	"strings"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// editKeys are the editing keys inside a text input; like the bubbles
// inputs' own key maps they are not app actions and are not rebindable.
var editKeys = struct {
	Left, Right, WordLeft, WordRight, Home, End key.Binding
	Backspace, Delete, DeleteWord, KillLine     key.Binding
	KillStart, Up, Down, NewLine                key.Binding
}{
	Left:       key.NewBinding(key.WithKeys("left", "ctrl+b")),
	Right:      key.NewBinding(key.WithKeys("right", "ctrl+f")),
	WordLeft:   key.NewBinding(key.WithKeys("alt+left", "alt+b", "ctrl+left")),
	WordRight:  key.NewBinding(key.WithKeys("alt+right", "alt+f", "ctrl+right")),
	Home:       key.NewBinding(key.WithKeys("home", "ctrl+a")),
	End:        key.NewBinding(key.WithKeys("end", "ctrl+e")),
	Backspace:  key.NewBinding(key.WithKeys("backspace", "ctrl+h")),
	Delete:     key.NewBinding(key.WithKeys("delete", "ctrl+d")),
	DeleteWord: key.NewBinding(key.WithKeys("ctrl+w", "alt+backspace")),
	KillLine:   key.NewBinding(key.WithKeys("ctrl+k")),
	KillStart:  key.NewBinding(key.WithKeys("ctrl+u")),
	Up:         key.NewBinding(key.WithKeys("up")),
	Down:       key.NewBinding(key.WithKeys("down")),
	NewLine:    key.NewBinding(key.WithKeys("enter")),
}

// textInput is a small text editor: one line, or several with multiline.
// (The bubbles inputs need modules this build does not carry.)
type textInput struct {
	lines       [][]rune
	row, col    int
	top         int // first line shown (multiline)
	multiline   bool
	Prompt      string
	Placeholder string
	width       int
	height      int // lines shown when multiline
	focused     bool
}

func newTextInput(value string, multiline bool) textInput {
	t := textInput{multiline: multiline, height: 1}
	if multiline {
		t.height = 3
	}
	t.SetValue(value)
	return t
}

// SetValue replaces the text and puts the cursor at its end.
func (t *textInput) SetValue(s string) {
	if !t.multiline {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	t.lines = nil
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		t.lines = append(t.lines, []rune(l))
	}
	t.row = len(t.lines) - 1
	t.col = len(t.lines[t.row])
	t.top = max(0, t.row-t.height+1)
}

// Value is the text.
func (t *textInput) Value() string {
	s := make([]string, len(t.lines))
	for i, l := range t.lines {
		s[i] = string(l)
	}
	return strings.Join(s, "\n")
}

func (t *textInput) Focus()            { t.focused = true }
func (t *textInput) Blur()             { t.focused = false }
func (t *textInput) Focused() bool     { return t.focused }
func (t *textInput) SetWidth(w int)    { t.width = max(1, w) }
func (t *textInput) SetHeight(h int)   { t.height = max(1, h) }
func (t *textInput) AtFirstLine() bool { return t.row == 0 }
func (t *textInput) AtLastLine() bool  { return t.row == len(t.lines)-1 }
func (t *textInput) cur() []rune       { return t.lines[t.row] }
func (t *textInput) setCur(l []rune)   { t.lines[t.row] = l }
func (t *textInput) insert(rs ...rune) { t.setCur(insertRunes(t.cur(), t.col, rs)); t.col += len(rs) }
func isWordRune(r rune) bool           { return unicode.IsLetter(r) || unicode.IsDigit(r) }
func insertRunes(l []rune, at int, rs []rune) []rune {
	out := make([]rune, 0, len(l)+len(rs))
	out = append(out, l[:at]...)
	out = append(out, rs...)
	return append(out, l[at:]...)
}

// Update edits the text; it reports whether the text changed. Keys it
// does not use (tab, esc, ctrl+s…) are left to the caller.
func (t *textInput) Update(msg tea.Msg) (changed, used bool) {
	if !t.focused {
		return false, false
	}
	switch msg := msg.(type) {
	case tea.PasteMsg:
		t.paste(msg.Content)
		return true, true
	case tea.KeyPressMsg:
		return t.key(msg)
	}
	return false, false
}

func (t *textInput) paste(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for i, part := range strings.Split(s, "\n") {
		if i > 0 {
			if !t.multiline {
				t.insert(' ')
			} else {
				t.newline()
			}
		}
		t.insert([]rune(strings.Map(printable, part))...)
	}
}

func printable(r rune) rune {
	if r == '\t' {
		return ' '
	}
	if unicode.IsControl(r) {
		return -1
	}
	return r
}

func (t *textInput) newline() {
	l := t.cur()
	rest := append([]rune(nil), l[t.col:]...)
	t.setCur(l[:t.col:t.col])
	t.lines = append(t.lines[:t.row+1], append([][]rune{rest}, t.lines[t.row+1:]...)...)
	t.row++
	t.col = 0
}

func (t *textInput) key(msg tea.KeyPressMsg) (changed, used bool) {
	k := editKeys
	l := t.cur()
	switch {
	case key.Matches(msg, k.Left):
		if t.col > 0 {
			t.col--
		} else if t.row > 0 {
			t.row--
			t.col = len(t.cur())
		}
	case key.Matches(msg, k.Right):
		if t.col < len(l) {
			t.col++
		} else if t.row < len(t.lines)-1 {
			t.row++
			t.col = 0
		}
	case key.Matches(msg, k.WordLeft):
		t.col = wordStart(l, t.col)
	case key.Matches(msg, k.WordRight):
		for t.col < len(l) && !isWordRune(l[t.col]) {
			t.col++
		}
		for t.col < len(l) && isWordRune(l[t.col]) {
			t.col++
		}
	case key.Matches(msg, k.Home):
		t.col = 0
	case key.Matches(msg, k.End):
		t.col = len(l)
	case key.Matches(msg, k.Backspace):
		switch {
		case t.col > 0:
			t.setCur(append(l[:t.col-1:t.col-1], l[t.col:]...))
			t.col--
		case t.row > 0:
			prev := t.lines[t.row-1]
			t.col = len(prev)
			t.lines[t.row-1] = append(prev[:len(prev):len(prev)], l...)
			t.lines = append(t.lines[:t.row], t.lines[t.row+1:]...)
			t.row--
		default:
			return false, true
		}
		return true, true
	case key.Matches(msg, k.Delete):
		switch {
		case t.col < len(l):
			t.setCur(append(l[:t.col:t.col], l[t.col+1:]...))
		case t.row < len(t.lines)-1:
			t.setCur(append(l[:len(l):len(l)], t.lines[t.row+1]...))
			t.lines = append(t.lines[:t.row+1], t.lines[t.row+2:]...)
		default:
			return false, true
		}
		return true, true
	case key.Matches(msg, k.DeleteWord):
		start := wordStart(l, t.col)
		t.setCur(append(l[:start:start], l[t.col:]...))
		t.col = start
		return true, true
	case key.Matches(msg, k.KillLine):
		t.setCur(l[:t.col:t.col])
		return true, true
	case key.Matches(msg, k.KillStart):
		t.setCur(append([]rune(nil), l[t.col:]...))
		t.col = 0
		return true, true
	case t.multiline && key.Matches(msg, k.Up) && t.row > 0:
		t.row--
		t.col = min(t.col, len(t.cur()))
	case t.multiline && key.Matches(msg, k.Down) && t.row < len(t.lines)-1:
		t.row++
		t.col = min(t.col, len(t.cur()))
	case t.multiline && key.Matches(msg, k.NewLine):
		t.newline()
		return true, true
	case msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0:
		t.insert([]rune(strings.Map(printable, msg.Text))...)
		return true, true
	default:
		return false, false
	}
	return false, true
}

func wordStart(l []rune, col int) int {
	for col > 0 && !isWordRune(l[col-1]) {
		col--
	}
	for col > 0 && isWordRune(l[col-1]) {
		col--
	}
	return col
}

// View draws the text with a block cursor when focused.
func (t *textInput) View(s *Styles) string {
	w := max(1, t.width-lipgloss.Width(t.Prompt))
	if !t.multiline {
		return t.Prompt + t.lineView(s, 0, w)
	}
	t.top = scrollInto(t.top, t.row, t.height)
	var out []string
	for i := t.top; i < t.top+t.height; i++ {
		if i >= len(t.lines) {
			out = append(out, s.Faint.Render("~"))
			continue
		}
		out = append(out, t.lineView(s, i, w))
	}
	return strings.Join(out, "\n")
}

func (t *textInput) lineView(s *Styles, i, w int) string {
	l := t.lines[i]
	if len(t.lines) == 1 && len(l) == 0 && t.Placeholder != "" {
		if t.focused {
			return s.Cursor.Render(" ") + s.Placeholder.Render(truncate(t.Placeholder, w-1))
		}
		return s.Placeholder.Render(truncate(t.Placeholder, w))
	}
	if !t.focused || i != t.row {
		return truncate(string(l), w)
	}
	// Scroll horizontally so the cursor stays in view.
	start := 0
	if t.col >= w {
		start = t.col - w + 1
	}
	vis := l[start:]
	c := t.col - start
	before := string(vis[:min(c, len(vis))])
	at, after := " ", ""
	if c < len(vis) {
		at = string(vis[c])
		after = string(vis[c+1:])
	}
	return truncate(before+s.Cursor.Render(at)+after, w)
}
