package ui

import (
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"casefile/localdb/localdbtest"
)

// lastLine is the frame's hint line.
func lastLine(m *Model) string {
	lines := strings.Split(screenText(m), "\n")
	return lines[len(lines)-1]
}

// The hint line cuts other hints before it would hide how to quit: q on
// every screen at every width, ctrl+c while a form takes the letters.
func TestHintLineAlwaysShowsQuit(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	for _, w := range []int{120, 80, 60, 40, 24, 12} {
		m.step(tea.WindowSizeMsg{Width: w, Height: 24})
		for _, keys := range [][]string{{"1"}, {"right", "right"}, {"enter"}, {"2"}, {"3"}, {"4"}, {"1", "esc", "?"}, {"esc"}} {
			press(t, m, keys...)
			l := lastLine(m)
			if !strings.HasSuffix(strings.TrimRight(l, " "), "q quit") {
				t.Fatalf("at width %d after %v the hint line hides q:\n%q", w, keys, l)
			}
			if ansi.StringWidth(l) > w {
				t.Fatalf("at width %d the hint line is %d cells wide: %q", w, ansi.StringWidth(l), l)
			}
			if w >= 24 && !m.showHelp && !strings.Contains(l, "? all keys • q quit") {
				t.Fatalf("at width %d after %v the hint line hides the help key: %q", w, keys, l)
			}
		}
	}
	m.step(tea.WindowSizeMsg{Width: 40, Height: 24})
	press(t, m, "n") // a new matter: the form takes q as a letter
	if l := lastLine(m); !strings.HasSuffix(strings.TrimRight(l, " "), "ctrl+c quit") {
		t.Fatalf("in a form the hint line does not say how to quit: %q", l)
	}
	typeText(t, m, "q")
	if m.editor == nil {
		t.Fatal("q in a form's field quit or closed the form")
	}
}

// The help fits a 60×20 terminal and scrolls to its end with the list
// keys; q quits from it, as it says.
func TestHelpFitsAndScrollsAt60x20(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db, Hint: "Demo: run casefile demo --as bob"})
	m.step(tea.WindowSizeMsg{Width: 60, Height: 20})
	press(t, m, "?")
	frame := screenText(m)
	checkFrame(t, frame, 60, 20)
	mustContain(t, frame, "Keys · ? or esc closes", "↓ more below", "? close • ↓/j down • ↑/k up • q quit")
	golden.RequireEqual(t, trimRight(frame))

	all := strings.Join(m.helpLines(), "\n")
	if !strings.Contains(ansi.Strip(all), "Demo: run casefile demo --as bob") {
		t.Fatal("the help lost its last line")
	}
	press(t, m, "G")
	frame = screenText(m)
	checkFrame(t, frame, 60, 20)
	mustContain(t, frame, "↑ more above", "Demo: run casefile demo --as bob", "≠ conflict")
	mustNotContain(t, frame, "↓ more")
	press(t, m, "g")
	mustContain(t, screenText(m), "↓ more")
	drain(t, m, m.step(tea.MouseWheelMsg{Button: tea.MouseWheelDown}))
	if m.helpList.Top() == 0 {
		t.Fatal("the wheel did not scroll the help")
	}
	press(t, m, "esc")
	if m.showHelp {
		t.Fatal("esc did not close the help")
	}
	press(t, m, "?")
	if m.helpList.Top() != 0 {
		t.Fatal("the help opened again where it was left, not at its top")
	}
	if _, ok := m.step(keyPress("q"))().(tea.QuitMsg); !ok {
		t.Fatal("q in the help did not quit")
	}
}

// checkFrame fails when a frame is not exactly w×h cells.
func checkFrame(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Fatalf("the frame has %d lines, want %d:\n%s", len(lines), h, frame)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("line %d is %d cells wide, want at most %d:\n%s", i, lw, w, frame)
		}
	}
}

// The collections column narrows under 80 cells and hides under 60,
// leaving the list the room; the title still names the collection.
func TestSidebarShrinksOnNarrowTerminals(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right")
	for _, c := range []struct {
		w, side int
	}{{100, sidebarWidth}, {80, sidebarWidth}, {70, sidebarNarrowWidth}, {60, sidebarNarrowWidth}, {59, 0}, {40, 0}} {
		m.step(tea.WindowSizeMsg{Width: c.w, Height: 20})
		frame := screenText(m)
		checkFrame(t, frame, c.w, 20)
		body := strings.Split(frame, "\n")[headerRows+tabRows+1] // the list's column header
		rule := strings.Index(body, "│")
		if c.side == 0 {
			if rule >= 0 || strings.Contains(frame, "Collections") {
				t.Fatalf("at width %d the sidebar is still shown:\n%s", c.w, frame)
			}
		} else if got := ansi.StringWidth(body[:max(0, rule)]); rule < 0 || got != c.side {
			t.Fatalf("at width %d the sidebar is %d cells, want %d:\n%s", c.w, got, c.side, frame)
		}
		mustContain(t, frame, "Notes ·", "Caretaker")
	}
}

// docs/config.md names every action a config file may rebind.
func TestConfigDocListsEveryKeyAction(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range KeyNames() {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/config.md does not list the key action %q", n)
		}
	}
}
