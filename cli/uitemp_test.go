//go:build unix

package cli

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envHoldUI makes the test binary a stand-in for a terminal UI (see
// TestHoldOpeningDirChild): it holds a UI's directory for the data
// directory the variable names, puts an opened file in it, prints the
// directory and waits to be killed.
const envHoldUI = "CASEFILE_TEST_HOLD_UI"

// TestHoldOpeningDirChild is the child process of TestKilledUIsFilesAreSwept.
func TestHoldOpeningDirChild(t *testing.T) {
	data := os.Getenv(envHoldUI)
	if data == "" {
		t.Skip("the child process of TestKilledUIsFilesAreSwept")
	}
	dir, _, err := holdOpeningDir(data, filepath.Dir(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "opened.pdf"), []byte("privileged"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString(dir + "\n")
	time.Sleep(time.Hour)
}

// TestKilledUIsFilesAreSwept: a terminal UI killed with SIGKILL leaves
// its directory of plaintext files (opened attachments, texts for the
// editor); the next command removes it, and its lock file, however
// young. While the UI runs, hours or seconds old, commands leave them.
func TestKilledUIsFilesAreSwept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.add("matter", "title=Open files")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldOpeningDirChild$")
	cmd.Env = append(os.Environ(), envHoldUI+"="+h.data)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // ended below unless the test fails first
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the stand-in UI printed no directory: %v", err)
	}
	dir := strings.TrimSpace(line)
	locks, _ := filepath.Glob(filepath.Join(h.data, "ui-*.lock"))
	if len(locks) != 1 {
		t.Fatalf("lock files of the UI: %v", locks)
	}
	// Old as a UI open all day: still its, while it runs.
	long := time.Now().Add(-8 * time.Hour)
	for _, p := range []string{dir, filepath.Join(dir, "opened.pdf"), locks[0]} {
		if err := os.Chtimes(p, long, long); err != nil {
			t.Fatal(err)
		}
	}
	h.ok("list", "matter")
	if _, err := os.Stat(filepath.Join(dir, "opened.pdf")); err != nil {
		t.Fatalf("a command removed the files of a UI still running: %v", err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the stand-in UI ended by itself")
	}
	if _, err := os.Stat(filepath.Join(dir, "opened.pdf")); err != nil {
		t.Fatalf("the killed UI's file is gone before any command ran: %v", err)
	}
	h.ok("list", "matter")
	for _, p := range []string{dir, locks[0]} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the next command after its UI was killed (%v)", p, err)
		}
	}
}

// A lock file naming nothing that no process holds is a UI's between
// making it and locking it while it is young, and is left alone; an old
// one is removed. One naming a path that is not a UI's directory removes
// nothing but itself.
func TestDeadUILockFilesAreSweptSafely(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	starting := filepath.Join(data, "ui-1.lock")
	stale := filepath.Join(data, "ui-2.lock")
	foreign := filepath.Join(data, "ui-3.lock")
	precious := t.TempDir()
	writeAged(t, starting, nil, time.Second)
	writeAged(t, stale, nil, 2*time.Minute)
	writeAged(t, foreign, []byte(precious+"\n"), time.Hour)
	if err := sweepDeadUIs(data); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{starting: true, stale: false, foreign: false, precious: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s there after the sweep: %v, want %v", p, err == nil, want)
		}
	}
}
