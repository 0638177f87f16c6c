package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/localdb"
	"casefile/model"
)

// reviewMsg asks the app for the conflict review of one record.
type reviewMsg struct{ recordID string }

// detailPane shows one record: every field, its sync state, and its
// history from the journal.
type detailPane struct {
	Common
	id       string
	rec      model.Record
	journal  []localdb.JournalEntry
	conflict *model.Conflict
	files    filesSection // ui/attachments.go
	loaded   bool
	gone     bool
	err      error
	reqID    int
	// list scrolls the record's lines: one position per first line in
	// sight, so the last page ends on the last line.
	list scroller
	// typeAhead keeps a key pressed before the record was read (enter e).
	typeAhead
}

func newDetailPane(sh *Shared, id string) *detailPane {
	l := newScroller(sh.Keys)
	l.follow = true
	return &detailPane{Common: Common{Shared: sh}, id: id, list: l}
}

// SetSize sizes the pane; paging keeps two lines of the last page.
func (p *detailPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	p.list.page = max(1, h-2)
	p.relen()
}

// relen counts the positions to scroll through after the record or the
// size changed.
func (p *detailPane) relen() {
	p.list.SetLen(max(1, len(p.lines())-p.Height+1))
}

// Init reads the record.
func (p *detailPane) Init() tea.Cmd { return p.refresh() }

func (p *detailPane) refresh() tea.Cmd {
	p.reqID = p.newID()
	return tea.Batch(loadDetail(p.DB, p.id, p.reqID), p.loadFiles())
}

// Update scrolls and turns keys into edit, delete and review requests.
func (p *detailPane) Update(msg tea.Msg) tea.Cmd {
	k := p.Keys
	if handled, cmd := p.filesUpdate(msg); handled {
		return cmd
	}
	switch msg := msg.(type) {
	case detailMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.err = msg.err
		p.gone = errors.Is(msg.err, localdb.ErrNotFound)
		if msg.err == nil {
			p.rec, p.journal, p.conflict, p.loaded = msg.rec, msg.journal, msg.conflict, true
		}
		p.relen()
		p.release(p.Shared)
	case tea.MouseWheelMsg:
		p.list.Update(msg)
	case tea.KeyPressMsg:
		// The record's read is under way from the pane's start until it
		// is loaded or has failed.
		if !p.loaded && p.err == nil && (firstReadKey(k, &p.list, msg) || key.Matches(msg, k.ReviewRecord)) {
			p.keep(msg)
			return nil
		}
		if p.list.Update(msg) {
			return nil
		}
		switch {
		case !p.loaded:
			return nil
		case key.Matches(msg, k.ReviewRecord) && p.rec.State == model.StateConflict:
			p.send(reviewMsg{recordID: p.rec.ID})
		case p.rec.Deleted:
			return nil
		case key.Matches(msg, k.Edit):
			rec := p.rec
			p.send(editMsg{collection: rec.Collection, rec: &rec})
		case key.Matches(msg, k.Delete):
			return askDelete(p.Shared, p.rec)
		}
	}
	return nil
}

// View draws the record, scrolled.
func (p *detailPane) View() string {
	lines := p.lines()
	from := clamp(p.list.Top(), 0, max(0, len(lines)-p.Height))
	return strings.Join(lines[from:min(len(lines), from+p.Height)], "\n")
}

// lines are the record's lines: its fields, state and history.
func (p *detailPane) lines() []string {
	s := p.Styles
	switch {
	case p.gone:
		return []string{s.Muted.Render(" This record is no longer here: it was deleted or moved out of your matters. Press " + p.Keys.Back.Help().Key + " to go back.")}
	case p.err != nil:
		return []string{s.Error.Render(" The record could not be read: " + p.err.Error())}
	case !p.loaded:
		return []string{s.Muted.Render(" Loading…")}
	}
	col, ok := p.Schema.Collection(p.rec.Collection)
	if !ok {
		return []string{s.Error.Render(" This record's collection is not in the schema.")}
	}
	w := p.Width
	head := s.Title.Render(" "+col.Label+" · ") + s.Bold.Render(safeLine(p.rec.Title(col)))
	badge := s.badge(p.rec.State)
	if p.rec.Deleted {
		badge = s.Faint.Render("− deleted, waiting for the server")
	}
	lines := []string{joinRight(head, badge+" ", w), ""}
	lines = append(lines, p.fieldLines(col, w)...)
	lines = append(lines, p.filesLines(w)...)
	lines = append(lines, "")
	meta := fmt.Sprintf(" Version %d on the server · changed %s", p.rec.Version, ago(p.Now(), p.rec.UpdatedAt))
	if p.rec.Version == 0 {
		meta = " Not on the server yet · changed " + ago(p.Now(), p.rec.UpdatedAt)
	}
	lines = append(lines, s.Muted.Render(meta))
	if note := stateSentence(p.rec.State, p.Keys); note != "" {
		lines = append(lines, s.State[p.rec.State].Render(" "+note))
	}
	if p.conflict != nil {
		names := make([]string, len(p.conflict.Fields))
		for i, fc := range p.conflict.Fields {
			names[i] = fc.Field
		}
		if len(names) > 0 {
			lines = append(lines, s.Muted.Render(" Both sides changed: "+strings.Join(names, ", ")+"."))
		}
	}
	lines = append(lines, "", s.Group.Render(" History"))
	if len(p.journal) == 0 {
		lines = append(lines, s.Muted.Render(" Nothing recorded yet."))
	}
	for _, e := range p.journal {
		lines = append(lines, journalLine(s, e, p.Now(), w, "", false))
	}
	return lines
}

func (p *detailPane) fieldLines(col *model.Collection, w int) []string {
	s := p.Styles
	lw := 0
	for i := range col.Fields {
		lw = max(lw, len(fieldLabel(&col.Fields[i])))
	}
	lw = min(lw, 16)
	vw := max(10, w-lw-4)
	var lines []string
	for i := range col.Fields {
		f := &col.Fields[i]
		v := p.rec.Fields[f.Name]
		text := safeText(p.display(f, v))
		if f.Type == model.TypeRef && text != "" {
			text = p.matterTitle(model.Format(v))
		}
		// Every value is read whole here, the one place that shows all of
		// a record: a one-line field longer than the pane wraps like a
		// long text instead of ending in "…".
		if f.Type != model.TypeLongText {
			text = oneLine(text)
		}
		if text == "" {
			text = s.Faint.Render("—")
		}
		wrapped := strings.Split(ansi.Wrap(text, vw, " "), "\n")
		for i, l := range wrapped {
			label := ""
			if i == 0 {
				label = fieldLabel(f)
			}
			lines = append(lines, " "+s.Label.Render(pad(label, lw))+"  "+s.Value.Render(l))
		}
	}
	return lines
}

// stateSentence tells people what a record's state means for them.
func stateSentence(st model.SyncState, k *KeyMap) string {
	switch st {
	case model.StatePending:
		return "Saved on this computer; it goes to the server at the next sync."
	case model.StateSyncing:
		return "Being sent to the server now."
	case model.StateRetrying:
		return "Saved on this computer; sending it failed for a passing reason and will be tried again."
	case model.StateFailed:
		return "The server refused this change. Open the backlog (" + k.Backlog.Help().Key + ") to retry or discard it."
	case model.StateConflict:
		return "Someone else changed this record too. Press " + k.ReviewRecord.Help().Key + " to review the conflict."
	}
	return ""
}

// journalLine is one history line: time, who, what, and in the feed
// (withCollection) which record: its collection and title.
func journalLine(s *Styles, e localdb.JournalEntry, now time.Time, w int, title string, withCollection bool) string {
	at, now := e.At.Local(), now.Local()
	var when string
	switch {
	case now.Sub(at) < time.Hour:
		when = ago(now, at)
	case at.Year() == now.Year() && at.YearDay() == now.YearDay():
		when = at.Format("15:04")
	default:
		when = at.Format("02 Jan")
	}
	what := ""
	if col, ok := collectionOf(e.Collection); ok && withCollection {
		what = s.Muted.Render(pad(col, 11)) + " "
		if title != "" {
			what += "“" + safeLine(title) + "” "
		}
	}
	line := " " + s.Muted.Render(pad(when, 10)) + " " + s.Accent.Render(pad(safeLine(e.Actor), 6)) + " " + pad(string(e.Kind), 9) + " " + what + safeLine(sentence(e.Summary))
	return truncate(line, w)
}

// ShortHelp lists the detail's keys.
func (p *detailPane) ShortHelp() []key.Binding {
	k := p.Keys
	b := append([]key.Binding{k.Back, k.Edit, k.Delete}, k.AttachFile)
	if p.rec.State == model.StateConflict {
		b = append(b, k.ReviewRecord)
	}
	return b
}

// FullHelp lists every key of the detail.
func (p *detailPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{p.list.Bindings(), {k.Back, k.Edit, k.Delete, k.ReviewRecord}, k.fileKeys()}
}

// collectionOf names a journal entry's collection for the feed.
func collectionOf(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	return strings.ReplaceAll(name, "_", " "), true
}
