package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, h *harness, body string) {
	t.Helper()
	if err := os.WriteFile(h.config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfigUnknownKeyWarns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	writeConfig(t, h, "sevrer = \"http://127.0.0.1:1\"\ntheme = \"dark\"\n")
	r := h.run("list", "matter")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "casefile: warning: " + h.config + `: unknown key "sevrer" (ignored); did you mean "server"?` + "\n"
	if r.stderr != want {
		t.Fatalf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestConfigBadValueStopsTheCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.seed()
	before := h.snapshot()
	writeConfig(t, h, "sync_interval = \"soon\"\n")
	r := h.run("add", "matter", "title=Never written")
	want := "casefile add: " + h.config + `: sync_interval: not a duration (like 30s, 5m or 1h): "soon"` + "\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	if h.snapshot() != before {
		t.Fatal("a command ran despite a bad config")
	}
}

func TestConfigBadEnv(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env = map[string]string{"CASEFILE_SYNC_INTERVAL": "often"}
	r := h.run("list", "matter")
	if r.code != 1 || !strings.Contains(r.stderr, `casefile list: CASEFILE_SYNC_INTERVAL: not a duration (like 30s, 5m or 1h): "often"`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDataDirPrecedence: --data beats $CASEFILE_DATA beats data_dir in the
// config file.
func TestDataDirPrecedence(t *testing.T) {
	h := newHarness(t)
	t.Setenv("CASEFILE_DATA", "") // Main reads the process's environment
	fromFile, fromEnv, fromFlag := t.TempDir(), t.TempDir(), t.TempDir()
	writeConfig(t, h, "data_dir = \""+fromFile+"\"\n")
	run := func(args ...string) {
		t.Helper()
		var stderr strings.Builder
		if code := Main(t.Context(), append([]string{"--config", h.config}, args...), strings.NewReader(""), &strings.Builder{}, &stderr); code != 0 {
			t.Fatalf("casefile %v: exit %d: %s", args, code, stderr.String())
		}
	}
	exists := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "casefile.db"))
		return err == nil
	}
	run("add", "matter", "title=In the file's dir")
	if !exists(fromFile) {
		t.Fatal("data_dir from the config file not used")
	}
	t.Setenv("CASEFILE_DATA", fromEnv)
	run("add", "matter", "title=In the env's dir")
	if !exists(fromEnv) {
		t.Fatal("CASEFILE_DATA not used")
	}
	run("--data", fromFlag, "add", "matter", "title=In the flag's dir")
	if !exists(fromFlag) {
		t.Fatal("--data not used")
	}
	nested := filepath.Join(fromEnv, "a", "b")
	run("--data", nested, "list", "matter")
	info, err := os.Stat(nested)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("new data dir: %v, %v", err, info)
	}
	// Each directory holds only what was written through it.
	for dir, n := range map[string]int{fromFile: 1, fromEnv: 1, fromFlag: 1} {
		hh := &harness{t: t, data: dir}
		if got := hh.count("matter"); got != n {
			t.Errorf("%s: %d matters, want %d", dir, got, n)
		}
	}
}

// TestSettingsRefusedWhereWritten: a port no server can have and another
// user's home are refused by login and --data with the reason, instead of
// a failed dial at each sync or a directory named "~bob" in the working
// directory.
func TestSettingsRefusedWhereWritten(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("login", "--server", "http://127.0.0.1:99999", "--user", "alice")
	if r.code != 2 || !strings.Contains(r.stderr, "1 to 65535") {
		t.Errorf("login to port 99999: exit %d\n%s", r.code, r.stderr)
	}
	r = h.run("--data", "~nobody-here/x", "list", "note")
	if r.code == 0 || !strings.Contains(r.stderr, "--data") || !strings.Contains(r.stderr, "another user's home") {
		t.Errorf("--data ~nobody-here/x: exit %d\n%s", r.code, r.stderr)
	}
}
