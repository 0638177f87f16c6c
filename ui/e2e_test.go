package ui

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tmuxSession drives the real binary in a detached tmux session on its own
// tmux server, whose socket lives in the test's directory: nothing touches
// a tmux the developer is running, and nothing is left behind.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

// startTmux starts cmd in a detached w×h session called name, on a tmux
// server of its own listening on socket; the server is killed when the
// test ends.
func startTmux(t *testing.T, socket, name string, w, h int, cmd string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: socket, name: name}
	t.Cleanup(s.end)
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return s
}

// end kills the tmux server and waits for the programs its panes ran,
// and theirs, to end: a casefile told to hang up still writes as it
// goes (a form's draft, its lock and log files), and the test's temporary
// directory is removed right after this.
func (s *tmuxSession) end() {
	out, _ := s.tmux("list-panes", "-a", "-F", "#{pane_pid}")
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	pids = append(pids, descendants(pids)...)
	_, _ = s.tmux("kill-server")
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// descendants returns the processes below pids, read from /proc.
func descendants(pids []int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after
		// its closing parenthesis.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], pid)
			}
		}
	}
	var out []int
	for queue := append([]int(nil), pids...); len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// alive reports whether a process is still running (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	return len(f) > 0 && f[0] != "Z"
}

// keepPane keeps the pane after its program ends, to read what it printed.
func (s *tmuxSession) keepPane() {
	s.t.Helper()
	if out, err := s.tmux("set-option", "-w", "-t", s.name, "remain-on-exit", "on"); err != nil {
		s.t.Fatalf("tmux set-option: %v: %s", err, out)
	}
}

// startDemo starts `casefile demo` (an embedded server, alice and bob,
// seeded matters and one conflict) under dir in a 100×30 session called
// name, its stderr appended to dir/stderr.txt, the pane kept after it
// ends. It returns the command too, to start the same demo again.
func startDemo(t *testing.T, dir, name string) (*tmuxSession, string) {
	t.Helper()
	cmd := fmt.Sprintf("env CASEFILE_CONFIG=%s NO_COLOR= %s demo --dir %s --port %d 2>>%s",
		os.DevNull, buildCasefile(t), filepath.Join(dir, "demo"), freePort(t), filepath.Join(dir, "stderr.txt"))
	s := startTmux(t, filepath.Join(dir, "tmux.sock"), name, 100, 30, cmd)
	s.keepPane()
	return s, cmd
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// send types keys as tmux names them ("Enter", "C-s", "right") or, with
// literal, as text.
func (s *tmuxSession) send(literal bool, keys ...string) {
	s.t.Helper()
	args := []string{"send-keys", "-t", s.name}
	if literal {
		args = append(args, "-l")
	}
	if out, err := s.tmux(append(args, keys...)...); err != nil {
		s.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// addNote writes a note from the notes list: a new note whose matter is
// picked by typing find until the matter's title shows, titled title,
// saved with ctrl+s.
func (s *tmuxSession) addNote(find, matter, title string) {
	s.t.Helper()
	s.send(false, "right", "right")
	s.waitText("Notes · all matters")
	s.send(false, "n")
	s.waitText("New note")
	s.send(true, find)
	s.waitText(matter)
	s.send(false, "Enter", "Tab")
	s.send(true, title)
	s.send(false, "C-s")
}

func (s *tmuxSession) capture() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-t", s.name)
	if err != nil {
		s.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

// waitFor polls the screen until ok says yes, up to a deadline.
func (s *tmuxSession) waitFor(what string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %s; the screen is:\n%s", what, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxSession) waitText(want ...string) string {
	s.t.Helper()
	return s.waitFor(strings.Join(want, " and "), func(screen string) bool {
		for _, w := range want {
			if !strings.Contains(screen, w) {
				return false
			}
		}
		return true
	})
}

var (
	buildOnce sync.Once
	binDir    string // removed by TestMain
	buildErr  error
)

// buildCasefile builds the real binary, once per test run.
func buildCasefile(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; the end-to-end UI tests need it (.ci/run installs it)")
	}
	if testing.Short() {
		t.Skip("the end-to-end UI tests build and run the real binary")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "casefile-e2e-"); buildErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, "casefile"), ".")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "casefile")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestEndToEndDemo builds casefile, starts the demo (an embedded server,
// alice and bob, seeded matters and one conflict) in tmux at 100×30, and
// works through it as a person would: a note saved while working offline
// shows "saved offline", going online makes it "synced", and resolving the
// waiting conflict takes the conflict count down and the record then
// shows the resolved value.
func TestEndToEndDemo(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() { // what the program logged helps to see why
			for _, f := range []string{"stderr.txt", filepath.Join("demo", "alice", "casefile.log")} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		}
	})
	s, _ := startDemo(t, dir, "demo")

	// The demo seeds, opens alice's UI, and her first sync meets bob's change.
	s.waitText("alice@127.0.0.1", "● online", "≠ 1 conflict", "2 Conflicts (1)")

	// Work offline, then write a note: it is saved here at once.
	s.send(false, "o")
	s.waitText("◌ working offline")
	s.addNote("harbour t", "Harbour Trust v. Pell Constructions", "Written offline in the courtroom")
	screen := s.waitText("Notes · Written offline in the courtroom", "↑ saved offline")
	if !strings.Contains(screen, "You are working offline") {
		t.Fatalf("the save did not say where it went:\n%s", screen)
	}

	// Back online: the note goes to the server.
	s.send(false, "o")
	s.waitText("Notes · Written offline in the courtroom", "✓ synced", "● online")

	// Review the conflict: take my side and apply.
	s.send(false, "2")
	s.waitText("Note “Caretaker statement”", "? choose")
	s.send(false, "m")
	s.waitText("← mine", "Every field has a side.")
	s.send(false, "a")
	s.waitFor("the conflict count to drop", func(screen string) bool {
		return strings.Contains(screen, "No conflicts.") && !strings.Contains(screen, "Conflicts (1)") &&
			!strings.Contains(screen, "≠ 1 conflict")
	})
	s.waitText("✓ everything synced")

	// The record shows what the resolution wrote: mine, synced, no
	// conflict mark left behind (a screen re-reads after every change).
	s.send(false, "1")
	s.waitText("Notes · Written offline in the courtroom") // the detail left open
	s.send(false, "Escape")
	s.waitText("Notes · all matters")
	s.send(false, "/")
	s.send(true, "Caretaker")
	s.waitText("Caretaker statement", "1 of 1") // the search has narrowed the list
	s.send(false, "Enter")
	s.waitText("Caretaker statement", "1 of 1")
	s.send(false, "Enter")
	screen = s.waitText("he kept dated photos", "✓ synced")
	if strings.Contains(screen, "≠ conflict") || strings.Contains(screen, "reported them to Pell") {
		t.Fatalf("after resolving, the record still shows the conflict or their text:\n%s", screen)
	}

	// Quitting stops the demo: the session's program ends.
	s.send(false, "q")
	s.waitText("Quitting stops the demo server")
}

// TestEndToEndLocalTUI runs `casefile tui` with no server: it says so,
// shows a note the CLI adds from another process without a restart, and
// takes new keys from the config file while it runs.
func TestEndToEndLocalTUI(t *testing.T) {
	r := newSealedRig(t, "", "") // a config named explicitly must exist: an empty one
	cfg, cli := r.cfg, r.cli
	matter := cli("add", "matter", "title=Lindqvist v. Northgate Homes")
	s := r.start("tui", "", "")
	s.keepPane()
	s.waitText("◇ local only", "↑ 1 saved offline", "Lindqvist v. Northgate")
	s.send(false, "right", "right")
	s.waitText("No notes yet.")

	// Another process writes: the list and the header follow.
	cli("add", "note", "matter_id="+matter, "title=Mould in the bedroom", "status=open")
	s.waitText("Mould in the bedroom", "↑ 2 saved offline", "1 of 1")

	// New keys from the config file, read again while the UI runs: F
	// searches, and Q quits instead of q.
	if err := os.WriteFile(cfg, []byte("[keys]\nquit = \"Q\"\nsearch = \"F\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The search is open when its empty line shows its hint, or holds
	// F's: presses sent before the screen showed it open type into it.
	searching := func(screen string) bool {
		if strings.Contains(screen, "search all text fields") {
			return true
		}
		for _, l := range strings.Split(screen, "\n") {
			if strings.Contains(l, "/ F") {
				return true
			}
		}
		return false
	}
	var pressed time.Time
	s.waitFor("F to open the search", func(screen string) bool {
		if searching(screen) {
			return true
		}
		if time.Since(pressed) > 300*time.Millisecond {
			s.send(false, "F") // does nothing until the new keys arrive
			pressed = time.Now()
		}
		return false
	})
	s.send(false, "Escape") // closes the search and empties it
	s.waitFor("the search to close", func(screen string) bool { return !searching(screen) })
	s.send(false, "q", "F") // q no longer quits: the search opens after it
	s.waitText("search all text fields")
	s.send(false, "Escape")
	s.waitFor("the search to close", func(screen string) bool { return !searching(screen) })
	s.send(false, "Q")
	s.waitFor("the program to end", func(string) bool {
		out, _ := s.tmux("list-panes", "-t", s.name, "-F", "#{pane_dead}")
		return strings.TrimSpace(out) != "0"
	})
}

// TestEndToEndWorkOfflineSurvivesRestart quits the demo while working
// offline with a note saved offline, starts it again, and finds it still
// working offline, the note still waiting; switching back sends it.
func TestEndToEndWorkOfflineSurvivesRestart(t *testing.T) {
	s, cmd := startDemo(t, t.TempDir(), "demo")
	ended := func(string) bool {
		out, _ := s.tmux("list-panes", "-t", s.name, "-F", "#{pane_dead}")
		return strings.TrimSpace(out) == "1"
	}

	s.waitText("alice@127.0.0.1", "● online")
	s.send(false, "o")
	s.waitText("◌ working offline")
	s.addNote("harbour t", "Harbour Trust v. Pell Constructions", "Kept over a restart")
	s.waitText("Notes · Kept over a restart", "↑ saved offline")
	s.send(false, "q")
	s.waitFor("the demo to end", ended)

	// The same demo again: still working offline, from its first frame on.
	if out, err := s.tmux("respawn-pane", "-k", "-t", s.name, cmd); err != nil {
		t.Fatalf("tmux respawn-pane: %v: %s", err, out)
	}
	s.waitText("alice@127.0.0.1", "◌ working offline")
	s.send(false, "right", "right")
	screen := s.waitText("Kept over a restart")
	if strings.Contains(screen, "● online") || !strings.Contains(screen, "↑ saved offline") {
		t.Fatalf("after the restart:\n%s", screen)
	}
	s.send(false, "o")
	s.waitFor("the note to reach the server", func(screen string) bool {
		for _, l := range strings.Split(screen, "\n") {
			if strings.Contains(l, "Kept over a restart") && strings.Contains(l, "✓ synced") {
				return true
			}
		}
		return false
	})
	s.send(false, "q")
	s.waitFor("the demo to end", ended)
}
