package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readHidden prompts and reads a line from a terminal with echo turned off.
func readHidden(f *os.File, w io.Writer, prompt string) (string, bool, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		fmt.Fprintf(w, "%s (shown as you type): ", prompt)
		line, err := bufio.NewReader(f).ReadString('\n')
		return line, true, err
	}
	fmt.Fprintf(w, "%s: ", prompt)
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", false, err
	}
	defer func() {
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
		fmt.Fprintln(w)
	}()
	line, err := bufio.NewReader(f).ReadString('\n')
	return line, false, err
}

// isTTY reports whether f is a terminal a person types on (not /dev/null,
// which is a character device too).
func isTTY(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
