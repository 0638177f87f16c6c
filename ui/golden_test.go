package ui

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"casefile/localdb/localdbtest"
)

// watched wraps the app so a test can see each frame the program would
// draw, safely, while the program runs on its own goroutine.
type watched struct {
	*Model
	mu      *sync.Mutex
	frame   *string
	matters *bool // the matters' titles are in (Shared.Matters)
}

func (w watched) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := w.Model.Update(msg)
	f := ansi.Strip(w.Model.render())
	in := len(w.Model.sh.Matters) > 0
	w.mu.Lock()
	*w.frame, *w.matters = f, in
	w.mu.Unlock()
	return w, cmd
}

// goldenRun runs the real program at 100×30 with the NoTTY colour profile
// over a database seeded with every sync state, from its first screen (the
// matters); steps drive it, each waiting (with a deadline) until the frame
// shows what it names.
type goldenRun struct {
	t       *testing.T
	tm      *teatest.TestModel
	mu      sync.Mutex
	frame   string
	matters bool
}

// watch wraps m so that the run sees its frames and whether the matters'
// titles are in.
func (g *goldenRun) watch(m *Model) watched {
	return watched{Model: m, mu: &g.mu, frame: &g.frame, matters: &g.matters}
}

// waitForMatters waits until the matters' titles are in. They come with a
// read of their own, and until then a list, a record or the agenda names
// a matter by its id; every golden that shows a matter shows its title,
// so none may be taken before (on a loaded machine a quick test reached
// its last frame first).
func (g *goldenRun) waitForMatters() {
	g.t.Helper()
	g.waitUntil("the matters' titles", func(_ string, matters bool) bool { return matters })
}

func startGolden(t *testing.T) *goldenRun {
	t.Helper()
	db := localdbtest.Open(t)
	now := time.Now()
	seedStates(t, db, now.Add(42*time.Second))
	m := New(Options{DB: db, Now: func() time.Time { return now }, Getenv: func(string) string { return "" }})
	g := &goldenRun{t: t}
	w := g.watch(m)
	g.tm = teatest.NewTestModel(t, w,
		teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.NoTTY), tea.WithEnvironment([]string{"TERM=xterm-256color"})))
	t.Cleanup(func() { g.tm.Quit() })
	// The header's counts come from a read of their own; every golden
	// shows them, so none may be taken before they arrive (on a loaded
	// machine a quick test reached its last frame first).
	g.waitFor("saved offline")
	g.waitFor("Harbour Trust v. Pell") // the first screen: the matters
	g.waitForMatters()
	return g
}

// openNotes goes from the matters to the notes of every matter.
func (g *goldenRun) openNotes() {
	g.t.Helper()
	g.keys("Questions for the surv", "right", "right")
}

// waitFor waits until the frame contains want.
func (g *goldenRun) waitFor(want string) {
	g.t.Helper()
	g.waitUntil(fmt.Sprintf("%q", want), func(f string, _ bool) bool { return strings.Contains(f, want) })
}

// waitUntil waits (with a deadline) until ok holds of the frame and of
// whether the matters' titles are in; what names it when it never does.
func (g *goldenRun) waitUntil(what string, ok func(frame string, matters bool) bool) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		f, in := g.frame, g.matters
		g.mu.Unlock()
		if ok(f, in) {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s never came; last frame:\n%s", what, f)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keys sends keys and waits for the frame to show want.
func (g *goldenRun) keys(want string, keys ...string) {
	g.t.Helper()
	for _, k := range keys {
		g.tm.Send(keyPress(k))
	}
	g.waitFor(want)
}

// typeText types text one character at a time.
func (g *goldenRun) typeText(text string) {
	for _, r := range text {
		g.tm.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// finish quits and compares the last frame, in the pinned profile, with
// testdata/<test name>.golden (go test -update rewrites it).
func (g *goldenRun) finish() {
	g.t.Helper()
	if err := g.tm.Quit(); err != nil {
		g.t.Fatal(err)
	}
	fm := g.tm.FinalModel(g.t, teatest.WithFinalTimeout(10*time.Second))
	var out bytes.Buffer
	w := &colorprofile.Writer{Forward: &out, Profile: colorprofile.NoTTY}
	if _, err := w.WriteString(fm.(watched).View().Content); err != nil {
		g.t.Fatal(err)
	}
	golden.RequireEqual(g.t, trimRight(out.String()))
}

// trimRight drops trailing spaces so goldens diff cleanly.
func trimRight(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestGoldenList(t *testing.T) {
	g := startGolden(t)
	g.openNotes()
	g.keys("2 of 4", "down")
	g.finish()
}

func TestGoldenDetail(t *testing.T) {
	g := startGolden(t)
	g.openNotes()
	g.keys("3 of 4", "down", "down")
	g.keys("Both sides changed: body.", "enter")
	g.finish()
}

func TestGoldenEditor(t *testing.T) {
	g := startGolden(t)
	g.openNotes()
	g.keys("New note", "n")
	g.keys("New note", "tab")
	g.typeText("Hearing prep")
	g.keys("Hearing prep", "tab", "tab", "right", "right")
	g.keys("fix the fields marked ✗", "ctrl+s")
	g.finish()
}

func TestGoldenConflictReview(t *testing.T) {
	g := startGolden(t)
	g.keys("Conflicts · 2 to review", "2")
	g.keys("← mine", "m")
	g.finish()
}

func TestGoldenBacklog(t *testing.T) {
	g := startGolden(t)
	g.keys("Retrying (1)", "3")
	g.keys("▸ New task", "down", "down")
	g.finish()
}

func TestGoldenEditorLongText(t *testing.T) {
	g := startGolden(t)
	g.openNotes()
	g.keys("New note", "n")
	g.keys("▸ title", "tab")
	g.typeText("Hearing prep")
	g.keys("▸ body", "tab")
	g.typeText("Ask the surveyor when the sea wall was last inspected, and by whom; bring the 2019 report.")
	g.keys("~", "enter")
	g.typeText("Second line.")
	g.waitFor("Second line.")
	g.finish()
}
