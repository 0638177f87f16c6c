package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestCommandName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "casefile"},
		{[]string{"serve", "--addr", "x"}, "serve"},
		{[]string{"--data", "/tmp/a", "sync"}, "sync"},
		{[]string{"--data=/tmp/a", "import", "--file", "f"}, "import"},
		{[]string{"--data", "/tmp/a"}, "casefile"},
	} {
		if got := commandName(c.args); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestProfileCPUAndTrace: with a directory, the process's CPU profile,
// execution trace or allocation profile is written there under the command's name and the pid
// once stopped; without one, nothing is.
func TestProfileCPUAndTrace(t *testing.T) {
	for _, c := range []struct {
		ext   string
		start func(string) func()
	}{{".pprof", profileCPU}, {".trace", traceTo}, {".allocs.pprof", profileAllocs}} {
		t.Run(c.ext, func(t *testing.T) {
			dir := t.TempDir()
			c.start("")()
			stop := c.start(dir)
			stop()
			path := filepath.Join(dir, fmt.Sprintf("%s-%d%s", commandName(os.Args[1:]), os.Getpid(), c.ext))
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size() == 0 {
				t.Fatalf("%s is empty", path)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Fatalf("%d files in the directory, want 1", len(ents))
			}
			c.start(filepath.Join(dir, "missing"))() // an unusable directory is reported, not fatal
		})
	}
}
