package ui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/model"
)

// fixedNow is the clock of every test, so goldens never move.
var fixedNow = time.Date(2025, 3, 14, 15, 30, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	time.Local = time.UTC // journal times render the same everywhere
	code := m.Run()
	for _, dir := range []string{bigDir, binDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func mustCreate(t testing.TB, db *localdb.DB, collection string, f model.Fields) model.Record {
	t.Helper()
	r, err := db.Create(context.Background(), collection, "", f)
	if err != nil {
		t.Fatalf("create %s: %v", collection, err)
	}
	return r
}

// envOf is an environment holding only key=value, for Options.Getenv.
func envOf(key, value string) func(string) string {
	return func(k string) string {
		if k == key {
			return value
		}
		return ""
	}
}

// noTick replaces the clocks: tests deliver tick messages themselves.
func noTick(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }

// newTestModel builds the app at 100×30 with a fixed clock, no colour
// from the environment, and its first reads done.
func newTestModel(t testing.TB, opts Options) *Model {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	m := New(opts)
	m.sh.Tick = noTick
	m.step(tea.WindowSizeMsg{Width: 100, Height: 30})
	drain(t, m, m.Init())
	return m
}

// drain runs cmd and every command its messages lead to, synchronously,
// feeding each message to the app. Ticks are off (noTick), so it ends.
func drain(t testing.TB, m *Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			t.Fatal("drain: commands never settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			if isInternal(msg) {
				continue
			}
			queue = append(queue, m.step(msg))
		}
	}
}

// isInternal reports Bubble Tea's own request messages (background colour
// queries and the like), which only a real program answers.
func isInternal(msg tea.Msg) bool {
	switch msg.(type) {
	case tea.KeyPressMsg, tea.WindowSizeMsg, tea.MouseWheelMsg, tea.PasteMsg, tea.BackgroundColorMsg:
		return false
	}
	return strings.HasPrefix(typeName(msg), "tea.")
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// keyPress builds the message Bubble Tea sends for a key as key.Matches
// names it ("enter", "ctrl+s", "M", "?").
func keyPress(s string) tea.KeyPressMsg { return parseKey(s) }

// press sends keys one by one, running what they start.
func press(t testing.TB, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		drain(t, m, m.step(keyPress(k)))
	}
}

// typeText types text character by character.
func typeText(t testing.TB, m *Model, text string) {
	t.Helper()
	for _, r := range text {
		drain(t, m, m.step(tea.KeyPressMsg{Code: r, Text: string(r)}))
	}
}

// screen is the app's frame as plain text.
func screenText(m *Model) string {
	return ansi.Strip(m.render())
}

func mustContain(t testing.TB, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("want %q on screen, got:\n%s", w, s)
		}
	}
}

func mustNotContain(t testing.TB, s string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(s, b) {
			t.Fatalf("did not want %q on screen, got:\n%s", b, s)
		}
	}
}
