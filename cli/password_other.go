//go:build !linux

package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// readHidden prompts and reads a line; on this platform it cannot turn
// echo off, and says so in the prompt.
func readHidden(f *os.File, w io.Writer, prompt string) (string, bool, error) {
	fmt.Fprintf(w, "%s (shown as you type): ", prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	return line, true, err
}

// isTTY reports whether f is a character device: the best this platform's
// build can tell of a terminal.
func isTTY(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
