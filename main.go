// Command casefile is an offline-first terminal client for case work, and
// the sync server behind it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"

	"casefile/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	stopProfile := profileCPU(os.Getenv("CASEFILE_CPUPROFILE"))
	stopTrace := traceTo(os.Getenv("CASEFILE_TRACE"))
	stopAllocs := profileAllocs(os.Getenv("CASEFILE_ALLOCPROFILE"))
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopAllocs()
	stopTrace()
	stopProfile()
	stop()
	os.Exit(code)
}

// profileCPU writes this process's CPU profile into the directory dir, as
// <command>-<pid>.pprof, until the returned function is called; with dir
// empty it does nothing. It is how docs/benchmarks.md profiles a scenario:
// every casefile process the bench starts inherits the variable.
func profileCPU(dir string) func() {
	return record(dir, "CPU profile", "pprof", pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// traceTo writes this process's execution trace into the directory dir,
// as <command>-<pid>.trace, the same way. Where a CPU profile says what
// is busy, a trace says what waits (go tool trace -pprof=sync or sched).
func traceTo(dir string) func() {
	return record(dir, "trace", "trace", trace.Start, trace.Stop)
}

// profileAllocs writes what this process allocated, sampled from its start
// (the "allocs" profile), into the directory dir as
// <command>-<pid>.allocs.pprof when the returned function is called, the
// same way: where a CPU profile says what is busy, this says what makes
// the garbage collector run.
func profileAllocs(dir string) func() {
	var out io.Writer
	return record(dir, "allocation profile", "allocs.pprof",
		func(w io.Writer) error { out = w; return nil },
		func() {
			if err := pprof.Lookup("allocs").WriteTo(out, 0); err != nil {
				fmt.Fprintf(os.Stderr, "casefile: allocation profile: %v\n", err)
			}
		})
}

// record starts writing what into dir/<command>-<pid>.<ext> and returns
// the function that stops it; a file it cannot write is reported, not
// fatal.
func record(dir, what, ext string, start func(io.Writer) error, stop func()) func() {
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.%s", commandName(os.Args[1:]), os.Getpid(), ext))
	f, err := os.Create(path) // #nosec G304 -- a directory the operator named
	if err != nil {
		fmt.Fprintf(os.Stderr, "casefile: %s: %v\n", what, err)
		return func() {}
	}
	if err := start(f); err != nil {
		fmt.Fprintf(os.Stderr, "casefile: %s: %v\n", what, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		stop()
		_ = f.Close()
	}
}

// commandName is the command in a casefile command line: the first
// argument that is not a flag or a flag's value; "casefile" if none.
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") {
				i++ // its value
			}
			continue
		}
		return filepath.Base(a)
	}
	return "casefile"
}
