package ui

import (
	"fmt"
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
	input   lineInput
	loaded  bool
	err     error
	reqID   int
	want    string // a record to show once the list arrives
	notice  string
	busy    bool
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
		p.sel = 0
		for i, c := range p.list {
			if c.RecordID == selID {
				p.sel = i
			}
		}
		p.pickWanted()
		p.fields.SetLen(p.fieldCount())
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
	case tea.PasteMsg:
		if p.editing {
			p.input.Update(msg)
		}
	case tea.MouseWheelMsg:
		p.fields.Update(msg)
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
	if p.choices[c.RecordID] == nil {
		p.choices[c.RecordID] = map[string]model.Choice{}
	}
	p.choices[c.RecordID][field] = ch
	p.notice = ""
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
	case key.Matches(msg, k.EditValue):
		f, _ := col.Field(fc.Field)
		start := fc.Mine
		if ch, ok := p.choices[c.RecordID][fc.Field]; ok && ch.Take == model.TakeValue {
			start = ch.Value
		}
		p.input = newLineInput(p.Styles, fieldLabel(f)+": ", "", inputText(p.Shared, f, start))
		p.input.Focus()
		p.editing = true
		p.notice = ""
	case key.Matches(msg, k.Apply), key.Matches(msg, k.Open):
		return p.apply(c)
	}
	return nil
}

// editKey types a merged value; enter checks it against the schema.
func (p *conflictsPane) editKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.Keys
	switch {
	case key.Matches(msg, k.Back):
		p.editing, p.notice = false, ""
		return nil
	case key.Matches(msg, k.Open):
		c, col, _ := p.current()
		fc := c.Fields[p.field()]
		f, _ := col.Field(fc.Field)
		v, err := f.ParseInputAt(strings.TrimSpace(p.input.Value()), p.Shared.input())
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
		p.editing = false
		p.choose(fc.Field, model.Choice{Take: model.TakeValue, Value: v})
		return nil
	}
	p.input.Update(msg)
	return nil
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

// kindSentence says which two changes met.
func kindSentence(k model.ConflictKind) string {
	switch k {
	case model.ConflictEditDeleted:
		return "You changed it here; someone deleted it on the server."
	case model.ConflictDeleteEdit:
		return "You deleted it here; someone changed it on the server."
	}
	return "You and someone else changed the same fields."
}
