package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"casefile/model"
)

// conflictsPane reviews every open conflict: for each overlapping field
// its value at the base version, here (mine) and on the server (theirs),
// with what changed marked; the person takes a side per field or for all,
// or types a merged value, and applies.
type conflictsPane struct {
	Common
	list    []model.Conflict
	sel     int
	fields  scroller                           // the selected conflict's fields
	choices map[string]map[string]model.Choice // record id → field → choice
	whole   map[string]model.Take              // record id → side, for delete conflicts
	editing bool
	// merge is what the value being typed belongs to, fixed when typing
	// began: the list may be read again meanwhile, in another order.
	merge mergeTarget
	input lineInput
	// long: the value being merged is a long text, typed in area (or in
	// the person's editor, extID naming the request).
	long   bool
	area   areaInput
	extID  int
	loaded bool
	err    error
	reqID  int
	want   string // a record to show once the list arrives
	notice string
	busy   bool
}

func newConflictsPane(sh *Shared) *conflictsPane {
	f := newScroller(sh.Keys)
	f.wheel = 1 // fields are few and each is a line of its own
	f.rows = maxConflictFields
	return &conflictsPane{
		Common:  Common{Shared: sh},
		fields:  f,
		choices: map[string]map[string]model.Choice{},
		whole:   map[string]model.Take{},
	}
}

// mergeTarget is the field a merged value is typed for: one field of one
// record's conflict as it stood when typing began, and the text typing
// started from.
type mergeTarget struct {
	conflict model.Conflict
	field    model.FieldConflict
	start    string
}

// maxConflictFields is more fields than any collection has: the fields of
// a conflict are all in sight, never scrolled.
const maxConflictFields = 1000

// selectConflict shows conflict i from its first field.
func (p *conflictsPane) selectConflict(i int) {
	p.sel = i
	p.fields.Reset()
	p.fields.SetLen(p.fieldCount())
}

// field is the index of the field under the cursor.
func (p *conflictsPane) field() int { return p.fields.Cursor() }

// Init reads the conflicts.
func (p *conflictsPane) Init() tea.Cmd { return p.refresh() }

func (p *conflictsPane) refresh() tea.Cmd {
	p.reqID = p.newID()
	return loadConflicts(p.DB, p.reqID)
}

// Capturing reports whether a merged value is being typed.
func (p *conflictsPane) Capturing() bool { return p.editing }

// show selects a record's conflict, now or when the list arrives.
func (p *conflictsPane) show(recordID string) {
	p.want = recordID
	p.pickWanted()
}

func (p *conflictsPane) pickWanted() {
	for i, c := range p.list {
		if c.RecordID == p.want {
			p.selectConflict(i)
			p.want = ""
			return
		}
	}
}

func (p *conflictsPane) current() (model.Conflict, *model.Collection, bool) {
	if p.sel < 0 || p.sel >= len(p.list) {
		return model.Conflict{}, nil, false
	}
	c := p.list[p.sel]
	col, ok := p.Schema.Collection(c.Collection)
	return c, col, ok
}

// isDelete reports a delete-versus-edit conflict, resolved as a whole.
func isDelete(c model.Conflict) bool { return c.Kind != model.ConflictEdit }

// Update handles the list answer, choices, value editing and apply.
func (p *conflictsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case conflictsMsg:
		if msg.id != p.reqID {
			return nil
		}
		p.err = msg.err
		if msg.err != nil {
			return nil
		}
		var selID string
		if c, _, ok := p.current(); ok {
			selID = c.RecordID
		}
		p.list, p.loaded = msg.conflicts, true
		p.forgetResolved()
		p.sel = 0
		for i, c := range p.list {
			if c.RecordID == selID {
				p.sel = i
			}
		}
		p.pickWanted()
		p.fields.SetLen(p.fieldCount())
		if p.editing {
			p.followMerge()
		}
		return nil
	case resolvedMsg:
		p.busy = false
		if msg.err != nil {
			p.notice = "The resolution was not saved: " + msg.err.Error()
			return nil
		}
		delete(p.choices, msg.rec.ID)
		delete(p.whole, msg.rec.ID)
		p.notice = ""
		return p.refresh()
	case externalReadyMsg:
		if msg.owner == p.extID && p.editing {
			return p.runEditor(msg)
		}
	case externalDoneMsg:
		if msg.owner != p.extID || !p.editing {
			return nil
		}
		p.extID = 0
		if msg.err != nil {
			p.notice = "The text was not changed: " + msg.err.Error()
			return nil
		}
		p.area.SetValue(strings.TrimSuffix(msg.text, "\n")) // the newline editors end a file with
		p.notice = ""
	case tea.PasteMsg:
		switch {
		case p.editing && p.long:
			p.area.Update(msg)
		case p.editing:
			p.input.Update(msg)
		}
	case tea.MouseClickMsg:
		if !p.editing && !p.busy {
			return p.click(msg)
		}
	case tea.MouseWheelMsg:
		if !p.editing { // the field being merged stays under the cursor
			p.fields.Update(msg)
		}
	case tea.KeyPressMsg:
		if p.editing {
			return p.editKey(msg)
		}
		return p.key(msg)
	}
	return nil
}

func (p *conflictsPane) fieldCount() int {
	c, _, ok := p.current()
	if !ok || isDelete(c) {
		return 1
	}
	return max(1, len(c.Fields))
}

func (p *conflictsPane) choose(field string, ch model.Choice) {
	c, _, _ := p.current()
	p.chooseFor(c.RecordID, field, ch)
}

// chooseFor takes a side, or a value, for a field of a record's conflict.
func (p *conflictsPane) chooseFor(recordID, field string, ch model.Choice) {
	if p.choices[recordID] == nil {
		p.choices[recordID] = map[string]model.Choice{}
	}
	p.choices[recordID][field] = ch
	p.notice = ""
}

// forgetResolved drops the choices made for conflicts no longer listed
// (resolved here or elsewhere): a record may meet a new conflict later,
// which choices made for the old one must not answer.
func (p *conflictsPane) forgetResolved() {
	listed := make(map[string]bool, len(p.list))
	for _, c := range p.list {
		listed[c.RecordID] = true
	}
	for id := range p.choices {
		if !listed[id] {
			delete(p.choices, id)
		}
	}
	for id := range p.whole {
		if !listed[id] {
			delete(p.whole, id)
		}
	}
}

// followMerge keeps a merge being typed on its own record and field after
// the list was read again. When that conflict is gone (resolved
// elsewhere) or no longer the one the typing started from, the typing
// ends and nothing of it is kept: it answered values that no longer
// stand, and must never be applied to whichever conflict comes first now.
func (p *conflictsPane) followMerge() {
	t := p.merge
	i := slices.IndexFunc(p.list, func(c model.Conflict) bool { return c.RecordID == t.conflict.RecordID })
	j := -1
	if i >= 0 && p.list[i].Kind == t.conflict.Kind {
		j = slices.IndexFunc(p.list[i].Fields, func(fc model.FieldConflict) bool { return fc.Field == t.field.Field })
	}
	if j >= 0 && sameFieldConflict(p.list[i].Fields[j], t.field) {
		p.selectConflict(i)
		p.fields.Select(j)
		return
	}
	what := " was resolved elsewhere."
	if i >= 0 {
		what = " has a new conflict."
	}
	name := t.conflict.RecordID
	if col, ok := p.Schema.Collection(t.conflict.Collection); ok {
		// Cut to keep the sentence on one status line at 80 columns.
		name = singular(col) + " “" + truncate(conflictTitle(col, t.conflict), mergeNoticeTitle) + "”"
	}
	p.endMerge()
	p.notice = "Your merge was not applied: " + name + what
	p.warn(p.notice)
}

// mergeNoticeTitle is how much of a record's title the sentence saying
// a merge was dropped shows.
const mergeNoticeTitle = 20

// sameFieldConflict reports two readings of a field's conflict with the
// same three values.
func sameFieldConflict(a, b model.FieldConflict) bool {
	return a.Field == b.Field && model.Equal(a.Base, b.Base) && model.Equal(a.Mine, b.Mine) && model.Equal(a.Theirs, b.Theirs)
}

// endMerge stops typing a merged value and forgets the text, so none of
// it can be kept for another field or record.
func (p *conflictsPane) endMerge() {
	p.editing, p.long, p.extID = false, false, 0
	p.merge = mergeTarget{}
	p.input, p.area = lineInput{}, areaInput{}
}

// unkeptMerge reports a merged value typed and not yet kept: what quitting
// now would lose.
func (p *conflictsPane) unkeptMerge() bool {
	if !p.editing {
		return false
	}
	text := p.input.Value()
	if p.long {
		text = p.area.Value()
	}
	return text != p.merge.start
}

func (p *conflictsPane) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	c, col, ok := p.current()
	switch {
	case key.Matches(msg, k.NextConflict):
		if len(p.list) > 0 {
			p.selectConflict((p.sel + 1) % len(p.list))
			p.notice = ""
		}
		return nil
	case key.Matches(msg, k.PrevConflict):
		if len(p.list) > 0 {
			p.selectConflict((p.sel - 1 + len(p.list)) % len(p.list))
			p.notice = ""
		}
		return nil
	case p.fields.Update(msg):
		return nil
	}
	if !ok || p.busy {
		return nil
	}
	if isDelete(c) {
		switch {
		case key.Matches(msg, k.TakeMine), key.Matches(msg, k.AllMine):
			p.whole[c.RecordID] = model.TakeMine
		case key.Matches(msg, k.TakeTheirs), key.Matches(msg, k.AllTheirs):
			p.whole[c.RecordID] = model.TakeTheirs
		case key.Matches(msg, k.Apply), key.Matches(msg, k.Open):
			return p.apply(c)
		}
		return nil
	}
	if len(c.Fields) == 0 {
		return nil
	}
	fc := c.Fields[p.field()]
	switch {
	case key.Matches(msg, k.TakeMine):
		p.choose(fc.Field, model.Choice{Take: model.TakeMine})
	case key.Matches(msg, k.TakeTheirs):
		p.choose(fc.Field, model.Choice{Take: model.TakeTheirs})
	case key.Matches(msg, k.AllMine):
		for _, f := range c.Fields {
			p.choose(f.Field, model.Choice{Take: model.TakeMine})
		}
	case key.Matches(msg, k.AllTheirs):
		for _, f := range c.Fields {
			p.choose(f.Field, model.Choice{Take: model.TakeTheirs})
		}
	case key.Matches(msg, k.TakeBoth):
		if f, ok := col.Field(fc.Field); ok && f.Type == model.TypeTags {
			p.choose(fc.Field, model.Choice{Take: model.TakeValue, Value: model.MergeTags(fc.Base, fc.Mine, fc.Theirs)})
		}
	case key.Matches(msg, k.EditValue):
		f, ok := col.Field(fc.Field)
		if !ok {
			return nil
		}
		start := fc.Mine
		if ch, ok := p.choices[c.RecordID][fc.Field]; ok && ch.Take == model.TakeValue {
			start = ch.Value
		}
		text := inputText(p.Shared, f, start)
		p.long = f.Type == model.TypeLongText
		if p.long {
			p.area = newAreaInput(p.Styles, "", text)
			p.area.Focus(areaRows)
			text = p.area.Value() // as the area holds it, to tell a change
		} else {
			p.input = newLineInput(p.Styles, fieldLabel(f)+": ", "", text)
			p.input.Focus()
			text = p.input.Value()
		}
		p.editing = true
		p.merge = mergeTarget{conflict: c, field: fc, start: text}
		p.notice = ""
	case key.Matches(msg, k.Apply), key.Matches(msg, k.Open):
		return p.apply(c)
	}
	return nil
}

// editKey types a merged value; enter (ctrl+s for a long text, where
// enter starts a line) checks it against the schema and keeps it.
func (p *conflictsPane) editKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	switch {
	case key.Matches(msg, k.Back):
		p.endMerge()
		p.notice = ""
		return nil
	case p.long && key.Matches(msg, k.ExternalEditor):
		p.extID = p.newID()
		return editExternally(p.TempDir, p.extID, p.area.Value())
	case p.long && key.Matches(msg, k.Save), !p.long && key.Matches(msg, k.Open):
		// The value is kept for the field typing began on, whatever the
		// list shows now (followMerge ends typing whose conflict is gone).
		t := p.merge
		f, ok := p.mergeField()
		if !ok {
			p.endMerge()
			return nil
		}
		text := p.area.Value()
		if !p.long {
			text = strings.TrimSpace(p.input.Value())
		}
		v, err := f.ParseInputAt(text, p.Shared.input())
		if err == nil {
			v, err = f.Normalize(v)
		}
		if err == nil && v == nil && f.Required {
			err = fmt.Errorf("is required and cannot be empty")
		}
		if err != nil {
			p.notice = "✗ " + fieldLabel(f) + ": " + err.Error()
			return nil
		}
		p.endMerge()
		p.chooseFor(t.conflict.RecordID, t.field.Field, model.Choice{Take: model.TakeValue, Value: v})
		return nil
	}
	if p.long {
		p.area.Update(msg)
		return nil
	}
	p.input.Update(msg)
	return nil
}

// mergeField is the schema's field a merged value is typed for.
func (p *conflictsPane) mergeField() (*model.Field, bool) {
	col, ok := p.Schema.Collection(p.merge.conflict.Collection)
	if !ok {
		return nil, false
	}
	return col.Field(p.merge.field.Field)
}

// apply checks that every field has a side and writes the resolution.
func (p *conflictsPane) apply(c model.Conflict) tea.Cmd {
	var r model.Resolution
	if isDelete(c) {
		t, ok := p.whole[c.RecordID]
		if !ok {
			p.notice = "Choose first: " + p.Keys.TakeMine.Help().Key + " for your side, " + p.Keys.TakeTheirs.Help().Key + " for theirs."
			p.warn(p.notice)
			return nil
		}
		r.All = t
	} else {
		r.Fields = map[string]model.Choice{}
		left := 0
		for _, fc := range c.Fields {
			ch, ok := p.choices[c.RecordID][fc.Field]
			if !ok {
				left++
				continue
			}
			r.Fields[fc.Field] = ch
		}
		if left > 0 {
			p.notice = fmt.Sprintf("Nothing applied: %s yet; choose %s mine, %s theirs or %s a value.",
				plural(left, "field has no side", "fields have no side"), p.Keys.TakeMine.Help().Key, p.Keys.TakeTheirs.Help().Key, p.Keys.EditValue.Help().Key)
			p.warn(p.notice)
			return nil
		}
	}
	p.busy = true
	return resolveConflict(p.DB, c.RecordID, r)
}

// conflictTitle names the record of a conflict from what is known of it.
func conflictTitle(col *model.Collection, c model.Conflict) string {
	f := model.Fields{}
	for _, fc := range c.Fields {
		f[fc.Field] = fc.Base
	}
	for k, v := range c.Theirs {
		f[k] = v
	}
	for k, v := range c.Mine {
		f[k] = v
	}
	return safeLine(titleOf(col, c.RecordID, f))
}

// kindSentence says which two changes met, naming who made the server's
// change and when, when the server said; short, to fit beside the
// record's name at 80 columns.
func (p *conflictsPane) kindSentence(c model.Conflict) string {
	who, whoElse := "someone", "Someone else"
	if c.TheirsBy != "" {
		who = safeLine(c.TheirsBy)
		whoElse = who
	}
	when := ""
	if !c.TheirsAt.IsZero() {
		when = " (" + model.FormatWhen(c.TheirsAt, p.Zone, p.Now()) + ")"
	}
	switch c.Kind {
	case model.ConflictEditDeleted:
		return "You changed it here; " + who + " deleted it on the server" + when + "."
	case model.ConflictDeleteEdit:
		return "You deleted it here; " + who + " changed it on the server" + when + "."
	}
	return whoElse + " changed the same fields" + when + "."
}

// listTop is the first conflict the list at the top shows.
func (p *conflictsPane) listTop() int {
	return clamp(p.sel-conflictListRows+1, 0, max(0, len(p.list)-conflictListRows))
}

// click selects a conflict in the list, a field in the table, and takes a
// side when the click lands on a value: mine or theirs (the buttons of
// the delete conflicts too).
func (p *conflictsPane) click(msg tea.MouseClickMsg) tea.Cmd {
	top := p.listTop()
	shown := min(len(p.list)-top, conflictListRows)
	switch {
	case len(p.list) == 0:
		return nil
	case msg.Y >= 1 && msg.Y <= shown:
		p.selectConflict(top + msg.Y - 1)
		p.notice = ""
		return nil
	}
	c, _, ok := p.current()
	if !ok {
		return nil
	}
	first := shown + 3 // under the rule and the record's title
	if isDelete(c) {
		switch msg.Y - first {
		case 0:
			p.whole[c.RecordID] = model.TakeMine
		case 1:
			p.whole[c.RecordID] = model.TakeTheirs
		}
		return nil
	}
	i := msg.Y - first - 1 // under the table's header
	if i < 0 || i >= len(c.Fields) {
		return nil
	}
	p.fields.Select(i)
	cw := conflictColumn(p.Width)
	mine := 14 + cw + 1
	switch {
	case msg.X >= mine && msg.X < mine+cw:
		p.choose(c.Fields[i].Field, model.Choice{Take: model.TakeMine})
	case msg.X >= mine+cw+1 && msg.X < mine+2*cw+1:
		p.choose(c.Fields[i].Field, model.Choice{Take: model.TakeTheirs})
	}
	return nil
}
