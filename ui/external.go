package ui

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// A long text is edited in the person's own editor ($VISUAL, else
// $EDITOR, else vi): the text goes to a private temporary file, the UI
// hands the terminal to the editor (tea.ExecProcess) and takes it back
// when the editor exits, and the file's text comes back to the field it
// came from. The file is removed at once: it may hold what the local
// database keeps sealed.

// Messages of an edit in the person's editor; owner names the request.
type (
	// externalReadyMsg: the text is in its file, the editor can start.
	externalReadyMsg struct {
		owner int
		path  string
		err   error
	}
	// externalDoneMsg: the editor exited; text is the file as it left it.
	externalDoneMsg struct {
		owner int
		text  string
		err   error
	}
)

// editorCommand is the person's editor and its arguments.
func editorCommand(getenv func(string) string) []string {
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(getenv(v)); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}

// editExternally writes text to a temporary file in dir (the UI's own
// directory; "": the system's), off the UI's loop; the pane then starts
// the editor on it with runEditor.
func editExternally(dir string, owner int, text string) tea.Cmd {
	return func() tea.Msg {
		f, err := os.CreateTemp(dir, "casefile-*.txt") // 0600: the person's alone
		if err != nil {
			return externalReadyMsg{owner: owner, err: err}
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return externalReadyMsg{owner: owner, err: err}
		}
		return externalReadyMsg{owner: owner, path: f.Name()}
	}
}

// runEditor hands the terminal to the editor on the file, and reads the
// file back (and removes it) when the editor exits.
func (s *Shared) runEditor(msg externalReadyMsg) tea.Cmd {
	if msg.err != nil {
		return func() tea.Msg { return externalDoneMsg{owner: msg.owner, err: msg.err} }
	}
	args := append(editorCommand(s.Getenv), msg.path)
	cmd := exec.Command(args[0], args[1:]...) // #nosec G204 -- the person's own editor, on a file we made
	path, owner, name := msg.path, msg.owner, filepath.Base(args[0])
	return s.Exec(cmd, func(err error) tea.Msg {
		defer os.Remove(path)
		if err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return externalDoneMsg{owner: owner, err: errors.New(name + " ended with " + exit.String())}
			}
			return externalDoneMsg{owner: owner, err: errors.New("the editor " + name + " did not start (" + err.Error() + "); set $EDITOR")}
		}
		b, err := os.ReadFile(path) // #nosec G304 -- the temporary file we made for the editor
		if err != nil {
			return externalDoneMsg{owner: owner, err: err}
		}
		return externalDoneMsg{owner: owner, text: strings.ReplaceAll(string(b), "\r\n", "\n")}
	})
}
