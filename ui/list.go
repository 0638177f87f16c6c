package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// wheelStep is how many rows one turn of the mouse wheel moves a list.
const wheelStep = 3

// scroller is the one cursor-and-page component of every list in the UI:
// the records, the backlog, the activity feed, the pickers, the detail's
// lines and the conflict's fields. It holds a cursor over n items and the
// first of rows visible ones, and moves them with the list keys (up, down,
// page up, page down, half a page up/ctrl+u and down/ctrl+d, first,
// last) and the wheel. A pane
// sets its length and height, hands it keys and wheel turns, and draws
// items [top, top+rows).
//
// With follow set the cursor is the first visible row (a feed or a page of
// text scrolled line by line, with no row of its own under a cursor).
type scroller struct {
	keys   *KeyMap
	cursor int
	top    int
	n      int // items
	rows   int // visible rows
	// page is how far page up and down move; rows when zero.
	page int
	// wheel is how far a turn of the wheel moves; wheelStep when zero.
	wheel  int
	follow bool
}

func newScroller(keys *KeyMap) scroller { return scroller{keys: keys} }

// SetLen sets the number of items and keeps the cursor on one of them.
func (s *scroller) SetLen(n int) {
	s.n = max(0, n)
	s.cursor = clamp(s.cursor, 0, max(0, s.n-1))
	s.scroll()
}

// SetRows sets how many items are visible.
func (s *scroller) SetRows(h int) {
	s.rows = max(1, h)
	s.scroll()
}

// Len is the number of items.
func (s *scroller) Len() int { return s.n }

// Cursor is the item under the cursor (0 when the list is empty).
func (s *scroller) Cursor() int { return s.cursor }

// Top is the first visible item.
func (s *scroller) Top() int { return s.top }

// Visible returns the items in sight: [from, to).
func (s *scroller) Visible() (from, to int) {
	return s.top, min(s.n, s.top+s.rows)
}

// Select puts the cursor on item i and scrolls it into sight.
func (s *scroller) Select(i int) {
	s.cursor = clamp(i, 0, max(0, s.n-1))
	s.scroll()
}

// Reset puts the cursor back on the first item.
func (s *scroller) Reset() { s.cursor, s.top = 0, 0 }

// Move moves the cursor by d items; it reports whether anything moved.
func (s *scroller) Move(d int) bool {
	c, t := s.cursor, s.top
	s.cursor = clamp(s.cursor+d, 0, max(0, s.n-1))
	s.scroll()
	return c != s.cursor || t != s.top
}

func (s *scroller) scroll() {
	if s.follow {
		s.top = s.cursor
		return
	}
	s.top = scrollInto(min(s.top, s.cursor), s.cursor, s.rows)
	s.top = clamp(s.top, 0, max(0, s.n-1))
}

func (s *scroller) pageSize() int {
	if s.page > 0 {
		return s.page
	}
	return max(1, s.rows)
}

// halfPage is how far ctrl+u and ctrl+d move: half a page, at least one row.
func (s *scroller) halfPage() int { return max(1, s.pageSize()/2) }

// Update moves the list for a list key or a wheel turn; handled reports
// whether the message was one, so the pane need not look at it again.
func (s *scroller) Update(msg tea.Msg) (handled bool) {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		step := s.wheel
		if step == 0 {
			step = wheelStep
		}
		switch msg.Button {
		case tea.MouseWheelUp:
			s.Move(-step)
			return true
		case tea.MouseWheelDown:
			s.Move(step)
			return true
		}
	case tea.KeyPressMsg:
		k := s.keys
		switch {
		case key.Matches(msg, k.Up):
			s.Move(-1)
		case key.Matches(msg, k.Down):
			s.Move(1)
		case key.Matches(msg, k.PageUp):
			s.Move(-s.pageSize())
		case key.Matches(msg, k.PageDown):
			s.Move(s.pageSize())
		case key.Matches(msg, k.HalfPageUp):
			s.Move(-s.halfPage())
		case key.Matches(msg, k.HalfPageDown):
			s.Move(s.halfPage())
		case key.Matches(msg, k.Top):
			s.Move(-s.n)
		case key.Matches(msg, k.Bottom):
			s.Move(s.n)
		default:
			return false
		}
		return true
	}
	return false
}

// Bindings are the keys the list declares, for the panes' help.
func (s *scroller) Bindings() []key.Binding {
	k := s.keys
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.HalfPageUp, k.HalfPageDown, k.Top, k.Bottom}
}
