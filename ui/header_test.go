package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
	"casefile/syncer"
)

// standInSyncer is the UI's view of a syncer, at the package boundary:
// it records what the UI asks and lets the test play events.
type standInSyncer struct {
	mu      sync.Mutex
	events  chan syncer.Event
	conn    syncer.Connectivity
	syncs   int
	nudges  int
	offline []bool
}

func newStandIn(c syncer.Connectivity) *standInSyncer {
	return &standInSyncer{events: make(chan syncer.Event, 16), conn: c}
}

func (s *standInSyncer) Events() <-chan syncer.Event { return s.events }
func (s *standInSyncer) SyncNow()                    { s.mu.Lock(); s.syncs++; s.mu.Unlock() }
func (s *standInSyncer) Nudge()                      { s.mu.Lock(); s.nudges++; s.mu.Unlock() }
func (s *standInSyncer) SetWorkOffline(on bool) {
	s.mu.Lock()
	s.offline = append(s.offline, on)
	s.mu.Unlock()
}
func (s *standInSyncer) Connectivity() syncer.Connectivity { return s.conn }

// newSyncModel builds the app with a stand-in syncer; the syncer's event
// wait is not run (it would block): tests feed events with event().
func newSyncModel(t *testing.T, c syncer.Connectivity) (*Model, *standInSyncer) {
	t.Helper()
	db := localdbtest.Open(t)
	seedMatter(t, db, "Harbour", 2)
	return syncModelOn(t, db, c)
}

// syncModelOn is newSyncModel over the records db holds.
func syncModelOn(t *testing.T, db *localdb.DB, c syncer.Connectivity) (*Model, *standInSyncer) {
	t.Helper()
	s := newStandIn(c)
	m := New(Options{DB: db, Syncer: s, User: "alice", Server: "127.0.0.1:8750",
		Now: func() time.Time { return fixedNow }, Getenv: func(string) string { return "" }})
	m.sh.Tick = noTick
	m.step(tea.WindowSizeMsg{Width: 100, Height: 30})
	drain(t, m, m.refreshAll())
	return m, s
}

func event(t *testing.T, m *Model, e syncer.Event) {
	t.Helper()
	drain(t, m, m.onSync(e))
}

func headerLines(m *Model) string {
	return ansi.Strip(m.headerView())
}

func TestHeaderShowsConnectivityBySymbolAndWord(t *testing.T) {
	m, _ := newSyncModel(t, syncer.Online)
	mustContain(t, headerLines(m), "alice@127.0.0.1:8750", "● online", "↑ 3 saved offline", "not synced yet")
	cases := map[syncer.Connectivity]string{
		syncer.Syncing:     "↻ syncing",
		syncer.Offline:     "○ offline",
		syncer.Degraded:    "◐ degraded",
		syncer.WorkOffline: "◌ working offline",
		syncer.LoggedOut:   "✗ logged out",
	}
	for c, want := range cases {
		event(t, m, syncer.Event{Kind: syncer.EventConnectivity, Connectivity: c})
		mustContain(t, headerLines(m), want)
	}
}

func TestOfflineIsToldInASentence(t *testing.T) {
	m, _ := newSyncModel(t, syncer.Online)
	event(t, m, syncer.Event{Kind: syncer.EventConnectivity, Connectivity: syncer.Offline})
	mustContain(t, screenText(m), "You are offline. Your changes are saved on this computer and will sync when you are back online.")
	event(t, m, syncer.Event{Kind: syncer.EventConnectivity, Connectivity: syncer.Online})
	mustContain(t, screenText(m), "Back online.")
}

func TestWorkOfflineAndSyncNowKeys(t *testing.T) {
	m, s := newSyncModel(t, syncer.Online)
	press(t, m, "o")
	mustContain(t, screenText(m), "◌ working offline", "Working offline: nothing is sent or received")
	press(t, m, "s")
	mustContain(t, screenText(m), "You are working offline. Press o to go back online first.")
	press(t, m, "o")
	press(t, m, "s")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.offline) != 2 || !s.offline[0] || s.offline[1] {
		t.Fatalf("work offline calls = %v, want [true false]", s.offline)
	}
	if s.syncs != 2 { // one when going back online, one for s
		t.Fatalf("sync now calls = %d, want 2", s.syncs)
	}
}

func TestInitialSyncProgressBar(t *testing.T) {
	m, _ := newSyncModel(t, syncer.Syncing)
	now := fixedNow
	m.sh.Now = func() time.Time { return now }
	event(t, m, syncer.Event{Kind: syncer.EventProgress, Done: 500, Total: 20000})
	now = now.Add(2 * time.Second)
	event(t, m, syncer.Event{Kind: syncer.EventProgress, Done: 2500, Total: 20000})
	s := screenText(m)
	// 2,000 records in 2 s after the first page: 17,500 left at 1,250/s.
	mustContain(t, s, "First sync", "2,500 of 20,000 records", "about 15 s left", "█", "░")
	if lines := strings.Count(s, "\n") + 1; lines != 30 {
		t.Fatalf("the frame is %d lines with the progress bar, want 30", lines)
	}
	event(t, m, syncer.Event{Kind: syncer.EventCycle})
	mustNotContain(t, screenText(m), "First sync")
}

func TestProgressBarFillsAndHonoursNoColor(t *testing.T) {
	for _, noColor := range []bool{false, true} {
		m, _ := newSyncModel(t, syncer.Syncing)
		if noColor {
			m.noColor = true
			m.applySettings(m.settings)
		}
		event(t, m, syncer.Event{Kind: syncer.EventProgress, Done: 5000, Total: 20000})
		raw := strings.Split(m.render(), "\n")[2]
		bar := ansi.Strip(raw)
		full, empty := strings.Count(bar, "█"), strings.Count(bar, "░")
		// A quarter done: a quarter of the bar, and the line fits the screen.
		if frac := float64(full) / float64(full+empty); frac < 0.23 || frac > 0.27 || ansi.StringWidth(bar) > 100 {
			t.Fatalf("bar %q: %d full, %d empty, %d cells", bar, full, empty, ansi.StringWidth(bar))
		}
		hasColour := strings.Contains(raw, "38;")
		if hasColour == noColor {
			t.Fatalf("NO_COLOR %v, colours drawn %v: %q", noColor, hasColour, raw)
		}
	}
}

func TestSparklineCountsSyncActivity(t *testing.T) {
	m, _ := newSyncModel(t, syncer.Online)
	event(t, m, syncer.Event{Kind: syncer.EventPulled, Counts: syncer.Summary{Pulled: 40}})
	event(t, m, syncer.Event{Kind: syncer.EventPushed, Counts: syncer.Summary{Pushed: 2}})
	if got := m.activity.activity.vals[sparkLen-1]; got != 42 {
		t.Fatalf("current bucket = %d, want 42", got)
	}
	press(t, m, "4")
	mustContain(t, screenText(m), "sync activity", "█▏ last 10 min")
	// Ten minutes later the activity has scrolled out.
	later := fixedNow.Add(11 * time.Minute)
	m.sh.Now = func() time.Time { return later }
	if strings.Contains(ansi.Strip(m.activity.View()), "█▏ last") {
		t.Fatal("old activity is still drawn after ten minutes")
	}
}

func TestLocalOnlyHeader(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	h := headerLines(m)
	mustContain(t, h, "◇ local only", "No server is set up: everything stays on this computer.")
	mustNotContain(t, h, "last synced")
	press(t, m, "o")
	mustContain(t, screenText(m), "No server is set up")
}

func TestFitsIn80x24AndFullHelp(t *testing.T) {
	db := localdbtest.Open(t)
	seedStates(t, db, time.Now().Add(time.Minute))
	m := newTestModel(t, Options{DB: db, Hint: "Demo: run casefile demo --as bob"})
	m.step(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, keys := range [][]string{{"right", "right"}, {"enter"}, {"2"}, {"3"}, {"4"}, {"1", "esc", "n"}, {"esc", "?"}} {
		press(t, m, keys...)
		frame := screenText(m)
		lines := strings.Split(frame, "\n")
		if len(lines) != 24 {
			t.Fatalf("after %v the frame has %d lines, want 24:\n%s", keys, len(lines), frame)
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w > 80 {
				t.Fatalf("after %v line %d is %d cells wide:\n%s", keys, i, w, l)
			}
		}
	}
	mustContain(t, screenText(m), "Keys", "work offline", "matter filter", "Record states:", "↑ saved offline", "≠ conflict",
		"Demo: run casefile demo --as bob")
}

func TestNoColorKeepsStatesReadable(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "M", 1)
	m := newTestModel(t, Options{DB: db, Getenv: envOf("NO_COLOR", "1")})
	if !m.sh.Styles.Plain {
		t.Fatal("NO_COLOR did not turn colours off")
	}
	press(t, m, "right", "right")
	raw := m.render()
	if strings.Contains(raw, "38;2;") || strings.Contains(raw, "48;2;") {
		t.Fatal("colours drawn with NO_COLOR set")
	}
	mustContain(t, ansi.Strip(raw), "↑ saved offline", "▸")
}

func TestThemeFollowsTheTerminalBackground(t *testing.T) {
	db := localdbtest.Open(t)
	m := newTestModel(t, Options{DB: db})
	dark := m.sh.Styles.State
	m.step(tea.BackgroundColorMsg{Color: lightBackground{}})
	if m.dark {
		t.Fatal("a light background was taken for dark")
	}
	if m.sh.Styles.State["synced"].GetForeground() == dark["synced"].GetForeground() {
		t.Fatal("the styles did not change for a light background")
	}
	// A theme named in the config wins over the terminal.
	m.applySettings(Settings{Theme: ThemeDark})
	if m.sh.Styles.State["synced"].GetForeground() != dark["synced"].GetForeground() {
		t.Fatal("the dark theme did not win over a light terminal")
	}
}

type lightBackground struct{}

func (lightBackground) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

func TestMouseWheelScrollsTheList(t *testing.T) {
	db := localdbtest.Open(t)
	seedMatter(t, db, "M", 40)
	m := newTestModel(t, Options{DB: db})
	press(t, m, "right", "right")
	drain(t, m, m.step(tea.MouseWheelMsg{Button: tea.MouseWheelDown}))
	drain(t, m, m.step(tea.MouseWheelMsg{Button: tea.MouseWheelDown}))
	if m.records.list.cursor != 6 {
		t.Fatalf("cursor after two wheel steps = %d, want 6", m.records.list.cursor)
	}
	drain(t, m, m.step(tea.MouseWheelMsg{Button: tea.MouseWheelUp}))
	if m.records.list.cursor != 3 {
		t.Fatalf("cursor = %d, want 3", m.records.list.cursor)
	}
}

func TestConnectivityCatchesUpWhenAnEventWasDropped(t *testing.T) {
	m, s := newSyncModel(t, syncer.Online)
	s.conn = syncer.Offline // the syncer changed, its event never arrived
	drain(t, m, m.step(clockMsg{}))
	mustContain(t, headerLines(m), "○ offline")
	mustContain(t, screenText(m), "You are offline.")
}

// The header says everything synced only while nothing waits, nothing
// failed and nothing is in conflict: a change refused because access to
// its matter was revoked has no record left here to count, and still
// failed.
func TestHeaderCountsAFailedChangeWhoseRecordLeft(t *testing.T) {
	db := localdbtest.Open(t)
	ctx := context.Background()
	applied := func(op localdb.OutboxOp) protocol.OpResult {
		rec, _ := db.Get(ctx, op.RecordID)
		return protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: serverRecord(op, 1, rec.Fields)}
	}
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Harbour Trust v. Pell"})
	note := mustCreate(t, db, "note", model.Fields{"matter_id": mt.ID, "title": "Site meeting minutes"})
	pushOne(t, db, applied)
	m, _ := syncModelOn(t, db, syncer.Online)
	mustContain(t, headerLines(m), "✓ everything synced")

	if _, err := db.Update(ctx, note.ID, model.Fields{"title": "Site meeting minutes, corrected"}); err != nil {
		t.Fatal(err)
	}
	if err := db.ApplyPull(ctx, protocol.PullResponse{DroppedMatters: []string{mt.ID}, Cursor: 9, Head: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, note.ID); err == nil {
		t.Fatal("the note is still here after its matter was dropped")
	}
	drain(t, m, m.refreshAll())
	h := headerLines(m)
	mustContain(t, h, "✗ 1 failed")
	mustNotContain(t, h, "everything synced")
}

// Files to send or that failed, and any change still queued, keep the
// header from saying everything synced, and it says what waits.
func TestHeaderNamesFilesAndQueuedChanges(t *testing.T) {
	db := localdbtest.Open(t)
	m, _ := syncModelOn(t, db, syncer.Online)
	mustContain(t, headerLines(m), "✓ everything synced")
	cases := []struct {
		status localdb.Status
		want   []string
	}{
		{localdb.Status{UploadsWaiting: 2}, []string{"↑ 2 files to upload"}},
		{localdb.Status{UploadsFailed: 1, DownloadsFailed: 3}, []string{"✗ 1 file refused", "✗ 3 files not downloaded"}},
		{localdb.Status{OutboxOps: 1}, []string{"↑ 1 change waiting"}},
		{localdb.Status{FailedOps: 2, OutboxOps: 2, Conflicts: 1}, []string{"✗ 2 failed", "≠ 1 conflict"}},
	}
	for _, c := range cases {
		m.head.status = c.status
		h := headerLines(m)
		mustContain(t, h, c.want...)
		mustNotContain(t, h, "everything synced")
	}
}
