package ui

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb/localdbtest"
)

// recv waits for a value or a close on ch, with a deadline.
func recv(t *testing.T, ch <-chan struct{}) (ok bool) {
	t.Helper()
	select {
	case _, ok = <-ch:
		return ok
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived")
		return false
	}
}

func TestWatchFileSeesSavesAndRenames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	fw, err := WatchFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("theme = \"dark\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !recv(t, fw.C) {
		t.Fatal("the watch ended on a write")
	}
	// An editor's save: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".config.toml.swp")
	if err := os.WriteFile(tmp, []byte("theme = \"light\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for len(fw.C) > 0 {
		<-fw.C
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !recv(t, fw.C) {
		t.Fatal("the watch ended on a rename")
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	for range fw.C { // drains, then ends: Close closed the channel
	}
}

func TestConfigReloadAppliesThemeAndKeys(t *testing.T) {
	db := localdbtest.Open(t)
	changed := make(chan struct{}, 1)
	changed <- struct{}{}
	close(changed)
	next := Settings{Theme: ThemeLight, Keys: map[string][]string{"quit": {"Q"}, "work_offline": {"O"}}}
	// Init's wait sees the change, reloads, and waits again: the second
	// wait sees the closed channel and stops.
	m := newTestModel(t, Options{DB: db, ConfigChanged: changed, Reload: func() (Settings, error) { return next, nil }})
	if got := m.sh.Keys.Quit.Keys(); len(got) != 1 || got[0] != "Q" {
		t.Fatalf("quit keys = %v", got)
	}
	if m.settings.Theme != ThemeLight {
		t.Fatalf("theme = %q", m.settings.Theme)
	}
	press(t, m, "?")
	help := screenText(m)
	for _, re := range []string{`O\s+work offline`, `Q\s+quit`} {
		if !regexp.MustCompile(re).MatchString(help) {
			t.Fatalf("the help does not show %s:\n%s", re, help)
		}
	}
	press(t, m, "esc")

	// A bad override keeps the keys and says why.
	next = Settings{Keys: map[string][]string{"fly": {"f"}}}
	m.step(configMsg{})
	drain(t, m, func() tea.Msg { s, err := m.opts.Reload(); return settingsMsg{s: s, err: err} })
	if got := m.sh.Keys.Quit.Keys(); got[0] != "Q" {
		t.Fatalf("a bad override changed the keys: %v", got)
	}
	mustContain(t, screenText(m), `unknown key action "fly"`)
}
