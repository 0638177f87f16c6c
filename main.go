// Command casefile is an offline-first terminal client for case work, and
// the sync server behind it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"casefile/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
