package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefile/model"
)

// buildBinary builds the real casefile into a temporary directory (and
// skips the test in -short mode).
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "casefile")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".." // the module root, where main.go lives
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin on the data directory data with no config file, and
// returns its stdout, its stderr and its exit code.
func runBinary(t *testing.T, bin, data string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--data", data, "--config", os.DevNull}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", "", 0
}

// TestBinary builds the real casefile and runs it as a child process:
// exit codes, stdout and the one-sentence stderr.
func TestBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runBinary(t, bin, data, args...)
	}

	// A script's first start (no terminal, no passphrase) encrypts with a
	// key stored beside the data, quietly: its output is what it was.
	out, stderr, code := run("add", "matter", "title=Smith v Jones")
	id := strings.TrimSpace(out)
	if code != 0 || !model.ValidID(id) || stderr != "" {
		t.Fatalf("add: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, stderr, code = run("add", "note", "matter_id="+id)
	if code != 1 || out != "" || stderr != "casefile add: note.title: is required\n" {
		t.Fatalf("add without title: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, _, code = run("list", "matter", "--json")
	if code != 0 || !strings.Contains(out, `"title": "Smith v Jones"`) || !strings.Contains(out, `"state": "pending"`) {
		t.Fatalf("list: exit %d, %s", code, out)
	}
	_, stderr, code = run("frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, stderr %q", code, stderr)
	}
	out, _, code = run("--version")
	if code != 0 || !strings.HasPrefix(out, "casefile ") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
}
