package ui

import (
	"context"
	"errors"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// closeEditorMsg closes the editor without saving.
type closeEditorMsg struct{}

// labelWidth is the editor's label column, in cells.
const labelWidth = 14

// areaRows is the height of the long text field being edited.
const areaRows = 5

// editorPane is a form generated from a collection's schema. Saving checks
// every field with the schema's validation, shows each problem under its
// field, and writes to the local database at once, online or not.
type editorPane struct {
	Common
	col    *model.Collection
	rec    *model.Record // nil for a new record
	fields []*formField
	focus  int
	top    int
	picker *picker
	saving bool
	notice string // a problem that belongs to no field
	// extID names the edit in the person's editor under way, of field
	// extField; answers to older ones are dropped.
	extID, extField int
}

func newEditorPane(sh *Shared, col *model.Collection, rec *model.Record, matterID string) *editorPane {
	p := &editorPane{Common: Common{Shared: sh}, col: col, rec: rec}
	var vals model.Fields
	if rec != nil {
		vals = rec.Fields
	} else if matterID != "" {
		vals = model.Fields{model.MatterField: matterID}
	}
	for i := range col.Fields {
		f := &col.Fields[i]
		ff := &formField{f: f, foreign: -1}
		v := vals[f.Name]
		switch f.Type {
		case model.TypeEnum:
			if !f.Required {
				ff.options = append(ff.options, "")
			}
			ff.options = append(ff.options, f.Values...)
			if s, ok := v.(string); ok {
				ff.choice = slices.Index(ff.options, s)
				if ff.choice < 0 {
					ff.foreign, ff.choice = len(ff.options), len(ff.options)
					ff.options = append(ff.options, s)
				}
			}
		case model.TypeBool:
			ff.on, _ = v.(bool)
		case model.TypeRef:
			ff.refID, _ = v.(string)
		case model.TypeLongText:
			ff.area = newAreaInput(sh.Styles, placeholder(f), inputText(sh, f, v))
			ff.initial = ff.area.Value()
			ff.escaped = inputText(sh, f, v) != sh.display(f, v)
		default:
			ff.line = newLineInput(sh.Styles, "", placeholder(f), inputText(sh, f, v))
			ff.initial = ff.line.Value()
			ff.escaped = inputText(sh, f, v) != sh.display(f, v)
		}
		p.fields = append(p.fields, ff)
	}
	// Start on the first field a person types into, past a preset matter.
	for i, ff := range p.fields {
		if ff.f.Type != model.TypeRef || ff.refID == "" {
			p.focus = i
			break
		}
	}
	p.focusField(p.focus)
	return p
}

// rejectedFieldsMsg carries the fields the server refused in the edited
// record's failed ops.
type rejectedFieldsMsg struct {
	recordID string
	fields   []localdb.RejectedField
	err      error
}

// Init reads, for an existing record, the fields the server refused in its
// failed ops, so that the form opens with them marked.
func (p *editorPane) Init() tea.Cmd {
	if p.rec == nil || p.DB == nil {
		return nil
	}
	db, id := p.DB, p.rec.ID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		fields, err := db.RejectedFields(ctx, id)
		return rejectedFieldsMsg{recordID: id, fields: fields, err: err}
	}
}

// markRejected puts the server's refusal under each field it names; a
// field this device's schema does not have goes in the notice, with what
// to do about it.
func (p *editorPane) markRejected(msg rejectedFieldsMsg) {
	if msg.err != nil || p.rec == nil || msg.recordID != p.rec.ID || len(msg.fields) == 0 {
		return
	}
	var unknown []string
	for _, rf := range msg.fields {
		if rf.Collection != p.col.Name {
			continue
		}
		placed := false
		for _, ff := range p.fields {
			if ff.f.Name == rf.Field && ff.err == "" {
				ff.err, placed = rejectedText(rf.Kind), true
			}
		}
		if !placed && !slices.Contains(unknown, rf.Field) {
			unknown = append(unknown, rf.Field)
		}
	}
	if len(unknown) > 0 {
		p.notice = "The server also needs " + strings.Join(unknown, ", ") +
			", which this version of Casefile does not know: update Casefile, or discard the change."
	}
	p.focusFirstError()
}

// rejectedText says why the server refused a field.
func rejectedText(kind model.ProblemKind) string {
	switch kind {
	case model.ProblemUnknownField:
		return "the server has no such field: empty it or discard the change"
	case model.ProblemRequired:
		return "the server requires this field"
	default:
		return "the server refused this value"
	}
}

// refresh reads nothing: what is typed is not replaced under the person.
func (p *editorPane) refresh() tea.Cmd { return nil }

// SetSize sizes the form and its picker.
func (p *editorPane) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	if p.picker != nil {
		p.picker.SetSize(w, h)
	}
}

// Capturing is always true: the form takes typed letters.
func (p *editorPane) Capturing() bool { return true }

func (p *editorPane) focusField(i int) {
	p.fields[p.focus].blur()
	p.focus = clamp(i, 0, len(p.fields)-1)
	p.fields[p.focus].focus()
}

// Update edits the focused field, moves between fields, saves or cancels.
func (p *editorPane) Update(msg tea.Msg) tea.Cmd {
	ff := p.fields[p.focus]
	k := p.Keys
	switch msg := msg.(type) {
	case rejectedFieldsMsg:
		p.markRejected(msg)
		return nil
	case refPickedMsg:
		p.picker = nil
		if msg.ok {
			ff.refID, ff.err, ff.touched = msg.item.ID, "", true
		}
		return nil
	case savedMsg:
		p.saving = false
		var changed *localdb.ChangedError
		switch {
		case errors.As(msg.err, &changed) && p.rec != nil:
			p.showChanged(changed)
		case msg.err != nil:
			p.showError(msg.err)
		}
		return nil
	case externalReadyMsg:
		if msg.owner != p.extID {
			return nil
		}
		return p.runEditor(msg)
	case externalDoneMsg:
		if msg.owner != p.extID {
			return nil
		}
		p.extID = 0
		if msg.err != nil {
			p.notice = "The text was not changed: " + msg.err.Error()
			return nil
		}
		ef := p.fields[p.extField]
		ef.area.SetValue(strings.TrimSuffix(msg.text, "\n")) // the newline editors end a file with
		ef.err, p.notice = "", ""
		p.focusField(p.extField)
		return nil
	case tea.PasteMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		if ff.edit(msg) {
			ff.err = ""
		}
		return nil
	case tea.MouseWheelMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		switch msg.Button {
		case tea.MouseWheelUp:
			p.focusField(p.focus - 1)
		case tea.MouseWheelDown:
			p.focusField(p.focus + 1)
		}
		return nil
	case tea.KeyPressMsg:
		if p.picker != nil {
			return p.picker.Update(msg)
		}
		switch {
		case key.Matches(msg, k.Save):
			return p.save()
		case key.Matches(msg, k.ExternalEditor) && ff.f.Type == model.TypeLongText:
			p.extID, p.extField = p.newID(), p.focus
			return editExternally(p.TempDir, p.extID, ff.area.Value())
		case key.Matches(msg, k.Back):
			if !p.dirty() {
				p.send(closeEditorMsg{})
				return nil
			}
			p.send(askMsg{question: "Leave without saving? What you typed in this form is lost.", then: closeEditorMsg{}})
			return nil
		}
		if p.fieldKey(ff, msg) {
			ff.err = ""
			return nil
		}
		switch {
		case key.Matches(msg, k.NextField), key.Matches(msg, k.Open):
			p.focusField(p.focus + 1)
		case key.Matches(msg, k.PrevField):
			p.focusField(p.focus - 1)
		}
	}
	return nil
}

// fieldKey gives a key to the focused field's widget; it reports whether
// the widget used it.
func (p *editorPane) fieldKey(ff *formField, msg tea.KeyPressMsg) bool {
	k := p.Keys
	switch ff.f.Type {
	case model.TypeEnum:
		n := len(ff.options)
		switch {
		case key.Matches(msg, k.ChoiceLeft):
			ff.choice = (ff.choice - 1 + n) % n
		case key.Matches(msg, k.ChoiceRight), key.Matches(msg, k.Toggle):
			ff.choice = (ff.choice + 1) % n
		default:
			return false
		}
		ff.touched = true
		return true
	case model.TypeBool:
		if key.Matches(msg, k.Toggle) {
			ff.on, ff.touched = !ff.on, true
			return true
		}
		return false
	case model.TypeRef:
		typed := msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0 && !key.Matches(msg, k.Toggle)
		if key.Matches(msg, k.Choose) || key.Matches(msg, k.Toggle) || typed {
			var items []pickItem
			for _, m := range p.Matters {
				items = append(items, pickItem{ID: m.ID, Title: p.matterTitle(m.ID)})
			}
			p.picker = newPicker(p.Shared, "Choose the "+fieldLabel(ff.f), items, func(it pickItem, ok bool) tea.Msg {
				return refPickedMsg{item: it, ok: ok}
			})
			p.picker.SetSize(p.Width, p.Height)
			if typed {
				p.picker.Update(msg) // the letter starts the filter
			}
			return true
		}
		return false
	}
	// The form's own keys first: tab and shift+tab always move between
	// fields, and so do the arrows, except inside a long text where they
	// move between its lines; enter moves on from a one-line field.
	switch {
	case ff.f.Type == model.TypeLongText && ff.area.Moves(msg):
	case key.Matches(msg, k.NextField), key.Matches(msg, k.PrevField):
		return false
	case ff.f.Type != model.TypeLongText && key.Matches(msg, k.Open):
		return false
	}
	ff.edit(msg)
	return true
}

// changes collects the form: every set field for a new record, the fields
// that differ from the record for an edit. Parse errors land on fields.
func (p *editorPane) changes() (model.Fields, bool) {
	out := model.Fields{}
	ok := true
	for _, ff := range p.fields {
		v, err := ff.value(p.input())
		if err != nil {
			ff.err, ok = err.Error(), false
			continue
		}
		var orig any
		if p.rec != nil {
			orig = p.rec.Fields[ff.f.Name]
			if ff.isText() && ff.text() == ff.initial {
				// Untouched: the input may have shown the value a little
				// differently (a tab as spaces), which is no change.
				continue
			}
			if !ff.isText() && (!ff.touched || model.Equal(v, orig)) {
				// A choice, yes/no or reference left as it was, or
				// chosen back: what the record holds stays, also a
				// value this form could not show as it is.
				continue
			}
		}
		if ff.f.Type == model.TypeBool && orig == nil && v == false {
			v = nil // an untouched yes/no stays unset
		}
		if p.rec == nil {
			if v != nil {
				out[ff.f.Name] = v
			}
			continue
		}
		if nv, err := ff.f.Normalize(v); err == nil && model.Equal(nv, orig) {
			continue
		}
		out[ff.f.Name] = v
	}
	return out, ok
}

func (p *editorPane) dirty() bool {
	ch, ok := p.changes()
	for _, ff := range p.fields {
		ff.err = ""
	}
	if p.rec == nil {
		delete(ch, model.MatterField)
	}
	return !ok || len(ch) > 0
}

// save validates the form and, when it is clean, writes it.
func (p *editorPane) save() tea.Cmd {
	if p.saving {
		return nil
	}
	p.notice = ""
	for _, ff := range p.fields {
		ff.err = ""
	}
	ch, ok := p.changes()
	var fields model.Fields
	var probs model.Problems
	if ok {
		fields, probs = p.col.Validate(ch, p.rec == nil)
		p.showError(probs.Err())
	}
	if !ok || len(probs) > 0 {
		p.focusFirstError()
		p.notice = "Nothing was saved: fix the fields marked ✗."
		return nil
	}
	if p.rec != nil && len(fields) == 0 {
		p.send(closeEditorMsg{}) // nothing changed: nothing to write
		return nil
	}
	p.saving = true
	if p.rec == nil {
		return createRecord(p.DB, p.col.Name, fields)
	}
	// The values the person started from go along: a change pulled
	// meanwhile is refused (localdb.ChangedError), not replaced unseen.
	seen := model.Fields{}
	for f := range fields {
		seen[f] = p.rec.Fields[f]
	}
	return updateRecordSeen(p.DB, p.rec.ID, fields, seen)
}

// showChanged marks the fields another device changed while the form was
// open, with their values now, and takes those values as the ones seen:
// saving again puts the person's over them, knowingly.
func (p *editorPane) showChanged(ch *localdb.ChangedError) {
	rec := *p.rec
	rec.Fields = rec.Fields.Clone()
	for _, f := range ch.Fields {
		rec.Fields[f] = ch.Now[f]
		for _, ff := range p.fields {
			if ff.f.Name != f {
				continue
			}
			now := "empty"
			if v := ch.Now[f]; v != nil {
				now = "“" + truncate(safeLine(p.display(ff.f, v)), 60) + "”"
			}
			ff.err = "changed on another device while you edited; it is now " + now
		}
	}
	p.rec = &rec
	p.focusFirstError()
	p.notice = "Nothing was saved: another device changed the fields marked ✗ meanwhile. ctrl+s saves yours over theirs; esc keeps theirs."
}

// showError puts validation problems under their fields; anything else
// becomes the form's notice.
func (p *editorPane) showError(err error) {
	if err == nil {
		return
	}
	var probs model.Problems
	if !errors.As(err, &probs) {
		p.notice = "Nothing was saved: " + err.Error()
		return
	}
	for _, pr := range probs {
		placed := false
		for _, ff := range p.fields {
			if ff.f.Name == pr.Field {
				ff.err, placed = pr.Message, true
			}
		}
		if !placed {
			p.notice = "Nothing was saved: " + pr.String()
		}
	}
	p.focusFirstError()
	if p.notice == "" {
		p.notice = "Nothing was saved: fix the fields marked ✗."
	}
}

func (p *editorPane) focusFirstError() {
	for i, ff := range p.fields {
		if ff.err != "" {
			p.focusField(i)
			return
		}
	}
}

// View draws the form, scrolled to keep the focused field in sight.
func (p *editorPane) View() string {
	if p.picker != nil {
		return p.picker.View()
	}
	s := p.Styles
	title := "New " + singular(p.col)
	if p.rec != nil {
		title = "Edit " + singular(p.col) + " · " + safeLine(p.rec.Title(p.col))
	}
	head := []string{s.Title.Render(" " + truncate(title, p.Width-2))}
	if p.notice != "" {
		head = append(head, s.Error.Render(" "+truncate(p.notice, p.Width-2)))
	} else {
		head = append(head, s.Muted.Render(" Fields marked * are required. "+p.Keys.Save.Help().Key+" saves on this computer at once."))
	}
	head = append(head, "")
	var body []string
	start, end := 0, 0
	for i, ff := range p.fields {
		if i == p.focus {
			start = len(body)
		}
		body = append(body, p.fieldView(ff, i == p.focus)...)
		if i == p.focus {
			end = len(body)
		}
	}
	h := max(1, p.Height-len(head))
	if end-start > h {
		end = start + h
	}
	if start < p.top {
		p.top = start
	}
	if end > p.top+h {
		p.top = end - h
	}
	p.top = clamp(p.top, 0, max(0, len(body)-h))
	body = body[p.top:min(len(body), p.top+h)]
	return strings.Join(append(head, body...), "\n")
}

// ShortHelp lists the form's main keys.
func (p *editorPane) ShortHelp() []key.Binding {
	if p.picker != nil {
		return p.picker.ShortHelp()
	}
	k := p.Keys
	if p.fields[p.focus].f.Type == model.TypeLongText {
		return []key.Binding{k.Save, k.Back, k.ExternalEditor, k.NextField, k.PrevField}
	}
	return []key.Binding{k.Save, k.Back, k.NextField, k.PrevField}
}

// FullHelp lists every key of the form.
func (p *editorPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{{k.Save, k.Back, k.ExternalEditor}, {k.NextField, k.PrevField}, {k.ChoiceLeft, k.ChoiceRight, k.Toggle, k.Choose}}
}

// UnsavedForm is the form open with unsaved typing, if any, when the
// program ends: its collection, its record ("" for a new one) and the
// values typed (for an edit, those that differ from the record), so that
// the caller can keep them (localdb.KeepDraft) when a signal or a closed
// terminal ends the program.
func (m *Model) UnsavedForm() (collection, recordID string, fields model.Fields, ok bool) {
	p := m.editor
	if p == nil || !p.dirty() {
		return "", "", nil, false
	}
	fields = model.Fields{}
	for _, ff := range p.fields {
		// As typed, also what does not parse yet: it is the person's.
		if ff.isText() {
			if t := ff.text(); t != ff.initial || p.rec == nil && t != "" {
				fields[ff.f.Name] = t
			}
			continue
		}
		if v, err := ff.value(p.input()); err == nil && (p.rec == nil && v != nil || p.rec != nil && ff.touched) {
			fields[ff.f.Name] = v
		}
	}
	if p.rec != nil {
		recordID = p.rec.ID
	}
	return p.col.Name, recordID, fields, len(fields) > 0
}
