package ui

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/localfiles"
	"casefile/transfer"
)

// Files is what the UI needs to attach, fetch and open files: the device's
// file store and a way to make the transfer queue run now.
type Files struct {
	Store localfiles.Store
	Kick  func() // nil: files move at the next sync
	// OpenDir is where a file is copied under its own name to be opened
	// (openers choose the program by the name).
	OpenDir string
	// Progress carries the transfer queue's progress reports (rate and
	// time left of the file moving); nil: the detail shows only the
	// bytes done, as stored.
	Progress <-chan transfer.Progress
}

// progressFresh is how long a progress report stands for its file: a
// report older than this describes a pass that stopped.
const progressFresh = 5 * time.Second

// transferProgressMsg is one progress report of the transfer queue.
type transferProgressMsg transfer.Progress

// waitProgress waits for the transfer queue's next report; the app
// re-arms it.
func waitProgress(ch <-chan transfer.Progress) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return nil
		}
		return transferProgressMsg(p)
	}
}

// seenProgress is a progress report and when it arrived.
type seenProgress struct {
	transfer.Progress
	at time.Time
}

// rateText is what a fresh report adds to a moving file's line: its rate
// and the time left ("1.2 MB/s, 0:42 left"); "" when there is none.
func rateText(p seenProgress, ok bool, now time.Time) string {
	if !ok || now.Sub(p.at) > progressFresh || p.Rate <= 0 {
		return ""
	}
	t := byteSize(int64(p.Rate)) + "/s"
	if p.ETA > 0 {
		e := p.ETA.Round(time.Second)
		t += fmt.Sprintf(", %d:%02d left", int(e.Minutes()), int(e.Seconds())%60)
	}
	return t
}

// filesSection is the attached files of the record a detail shows, with
// the one selected and the path prompt of an attach.
type filesSection struct {
	files  []localdb.FileInfo
	sel    int
	prompt *lineInput // non-nil while a path is typed
	reqID  int
	err    error
}

// filesChangedMsg says a file action finished: its sentence, and the
// files to read again.
type filesChangedMsg struct {
	text  string
	level noticeLevel
}

// filesMsg carries a record's files.
type filesMsg struct {
	id    int
	files []localdb.FileInfo
	err   error
}

func loadFiles(db *localdb.DB, recordID string, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		fs, err := db.Files(ctx, recordID)
		return filesMsg{id: id, files: fs, err: err}
	}
}

func (p *detailPane) loadFiles() tea.Cmd {
	p.files.reqID = p.newID()
	return loadFiles(p.DB, p.id, p.files.reqID)
}

// Capturing reports whether typed letters belong to the path prompt.
func (p *detailPane) Capturing() bool { return p.files.prompt != nil }

// filesUpdate handles the files' messages and keys; handled is false for
// what the rest of the detail handles.
func (p *detailPane) filesUpdate(msg tea.Msg) (bool, tea.Cmd) {
	f := &p.files
	k := p.Keys
	switch msg := msg.(type) {
	case filesChangedMsg:
		p.send(noticeMsg(msg))
		return true, p.loadFiles()
	case filesMsg:
		if msg.id != f.reqID {
			return true, nil
		}
		f.files, f.err = msg.files, msg.err
		f.sel = clamp(f.sel, 0, max(0, len(f.files)-1))
		p.relen()
		return true, nil
	case tea.KeyPressMsg:
		if f.prompt != nil {
			switch {
			case key.Matches(msg, k.Cancel) && msg.String() == "esc":
				f.prompt = nil
			case msg.String() == "tab":
				f.prompt.SetValue(completePath(f.prompt.Value()))
			case msg.String() == "enter":
				path := strings.TrimSpace(f.prompt.Value())
				f.prompt = nil
				if path != "" {
					return true, attachCmd(p.DB, p.Files, p.id, path)
				}
			default:
				f.prompt.Update(msg)
			}
			return true, nil
		}
		if !p.loaded || p.rec.Deleted {
			return false, nil
		}
		switch {
		case key.Matches(msg, k.AttachFile):
			in := newLineInput(p.Styles, " Attach file: ", "a path; tab completes", "")
			in.Focus()
			f.prompt = &in
			return true, nil
		case len(f.files) == 0:
			return false, nil
		case key.Matches(msg, k.NextFile):
			f.sel = (f.sel + 1) % len(f.files)
			return true, nil
		case key.Matches(msg, k.FetchFile):
			return true, fetchCmd(p.DB, p.Files, f.files[f.sel])
		case key.Matches(msg, k.OpenFile):
			return true, openCmd(p.Files, f.files[f.sel], p.Getenv)
		case key.Matches(msg, k.RemoveFile):
			file := f.files[f.sel]
			p.send(askMsg{question: fmt.Sprintf("Remove the file “%s” from this record? It goes from the server at the next sync.", safeLine(file.Name)),
				yes: detachCmd(p.DB, file)})
			return true, nil
		}
	}
	return false, nil
}

// filesLines are the detail's lines about its files.
func (p *detailPane) filesLines(w int) []string {
	s := p.Styles
	f := &p.files
	lines := []string{"", s.Group.Render(" Files")}
	if f.err != nil {
		lines = append(lines, s.Error.Render(" The files could not be read: "+f.err.Error()))
	}
	if len(f.files) == 0 {
		lines = append(lines, s.Muted.Render(" No files. Press "+p.Keys.AttachFile.Help().Key+" to attach one."))
	}
	for i, file := range f.files {
		mark := "  "
		if i == f.sel {
			mark = s.Accent.Render("▸ ")
		}
		moving := file.State == localdb.FileUploading || file.State == localdb.FileDownloading
		rp, ok := p.Transfers[file.ID]
		if moving && ok && file.Done < rp.Done && rp.Done <= file.Size {
			file.Done = rp.Done // the report is newer than the stored count
		}
		state := fileStateLabel(file)
		line := " " + mark + pad(truncate(safeLine(file.Name), 32), 32) + " " + pad(byteSize(file.Size), 9) + " " + state
		if moving {
			if t := rateText(rp, ok, p.Now()); t != "" {
				line += " · " + t
			}
			bar := s.Progress
			bar.SetWidth(max(10, min(30, w-ansi.StringWidth(line)-3)))
			frac := 1.0
			if file.Size > 0 {
				frac = float64(file.Done) / float64(file.Size)
			}
			line += " " + bar.ViewAs(frac)
		}
		lines = append(lines, truncate(line, w))
	}
	if f.prompt != nil {
		lines = append(lines, f.prompt.View(s, w))
	}
	return lines
}

// fileStateLabel pairs a file's state with a symbol, never colour alone.
func fileStateLabel(f localdb.FileInfo) string {
	sym := map[localdb.FileState]string{
		localdb.FileQueued: "◷", localdb.FileRetrying: "◷", localdb.FileUploading: "↑", localdb.FileUploaded: "✓", localdb.FileDownloading: "↓",
		localdb.FileOffline: "●", localdb.FileOnServer: "○", localdb.FileAwaiting: "◌", localdb.FileFailed: "✗",
	}[f.State]
	return sym + " " + safeLine(f.StateText())
}

// byteSize writes a size for people.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// completePath completes a typed path to the longest prefix its matches
// share (a directory gets its separator).
func completePath(typed string) string {
	p := typed
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	matches, _ := filepath.Glob(p + "*")
	if len(matches) == 0 {
		return typed
	}
	sort.Strings(matches)
	common := matches[0]
	for _, m := range matches[1:] {
		for !strings.HasPrefix(m, common) {
			common = common[:len(common)-1]
		}
	}
	if len(matches) == 1 {
		if st, err := os.Stat(common); err == nil && st.IsDir() {
			common += string(filepath.Separator)
		}
	}
	return common
}

func attachCmd(db *localdb.DB, files Files, recordID, path string) tea.Cmd {
	return func() tea.Msg {
		if files.Store == nil {
			return filesChangedMsg{text: "Files cannot be attached here: this device has no file store.", level: levelError}
		}
		ctx, cancel := context.WithTimeout(context.Background(), fileTimeout)
		defer cancel()
		if strings.HasPrefix(path, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				path = filepath.Join(home, path[2:])
			}
		}
		_, err := transfer.AttachPath(ctx, db, files.Store, recordID, path)
		if err != nil {
			return filesChangedMsg{text: "Nothing was attached: " + err.Error(), level: levelError}
		}
		if files.Kick != nil {
			files.Kick()
		}
		return filesChangedMsg{text: fmt.Sprintf("Attached %s; it is uploaded at the next sync.", safeLine(filepath.Base(path))), level: levelOK}
	}
}

func fetchCmd(db *localdb.DB, files Files, f localdb.FileInfo) tea.Cmd {
	return func() tea.Msg {
		if f.Local {
			return filesChangedMsg{text: safeLine(f.Name) + " is already on this device.", level: levelInfo}
		}
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		if _, err := db.QueueDownload(ctx, f.ID); err != nil {
			return filesChangedMsg{text: "The download could not be queued: " + err.Error(), level: levelError}
		}
		if files.Kick != nil {
			files.Kick()
		}
		return filesChangedMsg{text: "Downloading " + safeLine(f.Name) + ".", level: levelInfo}
	}
}

func detachCmd(db *localdb.DB, f localdb.FileInfo) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		if err := db.Delete(ctx, f.ID); err != nil {
			return filesChangedMsg{text: "The file was not removed: " + err.Error(), level: levelError}
		}
		return filesChangedMsg{text: "Removed " + safeLine(f.Name) + ".", level: levelInfo}
	}
}

// opener returns the command that opens a file with the system's
// program: $OPENER, else xdg-open (open on macOS).
func opener(getenv func(string) string) string {
	if getenv != nil {
		if o := strings.TrimSpace(getenv("OPENER")); o != "" {
			return o
		}
	}
	if runtime.GOOS == "darwin" {
		return "open"
	}
	return "xdg-open"
}

func openCmd(files Files, f localdb.FileInfo, getenv func(string) string) tea.Cmd {
	return func() tea.Msg {
		if !f.Local {
			return noticeMsg{text: safeLine(f.Name) + " is not on this device yet; download it first.", level: levelInfo}
		}
		if files.Store == nil || files.OpenDir == "" {
			return noticeMsg{text: "Files cannot be opened here.", level: levelError}
		}
		dir, err := os.MkdirTemp(files.OpenDir, "open-")
		if err != nil {
			return noticeMsg{text: "The file could not be opened: " + err.Error(), level: levelError}
		}
		name := filepath.Base(f.Name)
		if name == "." || name == ".." || !safeName(name) {
			name = f.ID
		}
		dst := filepath.Join(dir, name)
		if err := copyFile(files.Store, f.SHA256, dst); err != nil {
			return noticeMsg{text: "The file could not be opened: " + err.Error(), level: levelError}
		}
		cmd := exec.Command(opener(getenv), dst) // #nosec G204 -- the person's own opener, on a file name we made
		if err := cmd.Start(); err != nil {
			return noticeMsg{text: "No program opened the file (" + err.Error() + "); set $OPENER.", level: levelError}
		}
		go cmd.Wait() //nolint:errcheck // the opener lives on its own
		return noticeMsg{text: "Opened " + safeLine(f.Name) + ".", level: levelInfo}
	}
}

func safeName(s string) bool { return safeLine(s) == s && !strings.ContainsAny(s, `/\`) }

func copyFile(st localfiles.Store, hash, dst string) error {
	r, err := st.Open(hash)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- a temporary directory of ours
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileTimeout bounds copying a file into the store when it is attached.
const fileTimeout = 10 * time.Minute

// fileKeys are the detail's keys for files, for its help.
func (k *KeyMap) fileKeys() []key.Binding {
	return []key.Binding{k.AttachFile, k.NextFile, k.FetchFile, k.OpenFile, k.RemoveFile}
}

// transfersMsg carries the transfer queue for the backlog.
type transfersMsg struct {
	id        int
	transfers []localdb.Transfer
	err       error
}

func loadTransfers(db *localdb.DB, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		ts, err := db.Transfers(ctx)
		return transfersMsg{id: id, transfers: ts, err: err}
	}
}

// transferLine is the backlog's line about files moving beside the ops:
// how many go up and down, and the one moving now with its progress.
func transferLine(s *Styles, ts []localdb.Transfer, w int) string {
	if len(ts) == 0 {
		return ""
	}
	var up, down, failed int
	var moving *localdb.Transfer
	for i, t := range ts {
		switch {
		case t.State == localdb.TransferFailed:
			failed++
		case t.Direction == localdb.Upload:
			up++
		default:
			down++
		}
		if t.State == localdb.TransferActive && moving == nil {
			moving = &ts[i]
		}
	}
	line := fmt.Sprintf(" Files: ↑ %s to upload, ↓ %s to download", plural(up, "file", "files"), plural(down, "file", "files"))
	if failed > 0 {
		line += fmt.Sprintf(", ✗ %d failed", failed)
	}
	if moving != nil && moving.Size > 0 {
		line += fmt.Sprintf(" · moving one: %d %% of %s", moving.Done*100/moving.Size, byteSize(moving.Size))
	}
	return s.Muted.Render(truncate(line, w))
}
