package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"casefile/model"
)

// formField is one field of the editor, with the widget its type needs.
type formField struct {
	f       *model.Field
	line    lineInput // text, number, date, datetime, tags
	area    areaInput // longtext
	initial string    // the text the field started with
	options []string  // enum: the choices ("" first when optional)
	choice  int
	// foreign is the index in options of the record's value when this
	// device's schema does not list it (a newer or older casefile wrote
	// it); -1 when there is none. It is shown, marked, and kept unless
	// the person chooses another.
	foreign int
	on      bool   // bool
	refID   string // ref
	// touched says the person changed a choice, a yes/no or a reference:
	// an edit saves only those, so a value this form cannot show as it
	// is (a choice it does not list, a yes/no stored as something else)
	// stays as it was.
	touched bool
	// escaped says the stored text holds characters the input shows as
	// escapes (a control or bidi character as \x1b, \u202e): left alone
	// it is saved as it was, edited it is saved as shown, and the field
	// says so while focused.
	escaped bool
	err     string // the validation problem shown under the field
}

// inputText is a value as the person edits it: a date and time as the
// screen shows it, in their zone ("Tue 15 Dec 09:30"), which reads back
// as the same instant.
//
// Stored text comes in inert, as every pane shows it: a control, bidi or
// other hidden character as its visible escape (\x1b, \u202e), which a
// text input would otherwise draw raw or drop unseen. A field left as it
// was is not saved (editorPane.changes), so its stored value stays exact.
func inputText(sh *Shared, f *model.Field, v any) string {
	if f.Type == model.TypeLongText {
		return safeText(sh.display(f, v))
	}
	return safeLine(sh.display(f, v))
}

func placeholder(f *model.Field) string {
	switch f.Type {
	case model.TypeDate:
		return "YYYY-MM-DD"
	case model.TypeDateTime:
		return "e.g. tomorrow 14:00, 15/12 9:30, 9:30am"
	case model.TypeNumber:
		if f.Unit == model.UnitMinutes {
			return "e.g. 1h30, 90m, 1.5h or 90"
		}
		return "a number"
	case model.TypeTags:
		return "tags, separated by commas"
	}
	return ""
}

// isText reports whether the field is typed into (a text input or area).
func (ff *formField) isText() bool {
	switch ff.f.Type {
	case model.TypeEnum, model.TypeBool, model.TypeRef:
		return false
	}
	return true
}

func (ff *formField) focus() {
	switch {
	case ff.f.Type == model.TypeLongText:
		ff.area.Focus(areaRows)
	case ff.isText():
		ff.line.Focus()
	}
}

func (ff *formField) blur() {
	switch {
	case ff.f.Type == model.TypeLongText:
		ff.area.Blur()
	case ff.isText():
		ff.line.Blur()
	}
}

// text is what is typed in a text field.
func (ff *formField) text() string {
	if ff.f.Type == model.TypeLongText {
		return ff.area.Value()
	}
	return ff.line.Value()
}

// edit gives a key or a paste to the field's text input; it reports
// whether the text changed.
func (ff *formField) edit(msg tea.Msg) bool {
	switch {
	case ff.f.Type == model.TypeLongText:
		return ff.area.Update(msg)
	case ff.isText():
		return ff.line.Update(msg)
	}
	return false
}

// value is a field's value as typed, parsed for the schema.
func (ff *formField) value(in model.Input) (any, error) {
	switch ff.f.Type {
	case model.TypeEnum:
		if ff.options[ff.choice] == "" {
			return nil, nil
		}
		return ff.options[ff.choice], nil
	case model.TypeBool:
		return ff.on, nil
	case model.TypeRef:
		if ff.refID == "" {
			return nil, nil
		}
		return ff.refID, nil
	}
	s := ff.text()
	if ff.f.Type != model.TypeLongText {
		s = strings.TrimSpace(s)
	}
	return ff.f.ParseInputAt(s, in)
}

func (p *editorPane) fieldView(ff *formField, focused bool) []string {
	s := p.Styles
	label := fieldLabel(ff.f)
	if ff.f.Required {
		label += " *"
	}
	mark := "  "
	ls := s.Label
	if focused {
		mark, ls = "▸ ", s.LabelFocused
	}
	iw := max(10, p.Width-labelWidth-4)
	var val []string
	hint := ""
	switch ff.f.Type {
	case model.TypeEnum:
		o := ff.options[ff.choice]
		switch {
		case ff.choice == ff.foreign:
			o = safeLine(o) + " (not a choice this version of casefile lists)"
		case o == "":
			o = "—"
		default:
			o = safeLine(ff.f.ChoiceLabel(o))
		}
		val = []string{"‹ " + o + " ›"}
		hint = fmt.Sprintf("←/→ choose (%d choices)", len(ff.f.Values))
	case model.TypeBool:
		val = []string{"[ ] no"}
		if ff.on {
			val = []string{"[x] yes"}
		}
		hint = "space toggles"
	case model.TypeRef:
		t := s.Faint.Render("none chosen")
		if ff.refID != "" {
			t = p.matterTitle(ff.refID)
		}
		val = []string{t}
		hint = "enter chooses"
	case model.TypeLongText:
		h := ff.area.Rows(iw, 3)
		if focused {
			h = areaRows
		}
		val = strings.Split(ff.area.View(s, iw, h), "\n")
		hint = "enter adds a line · tab next field · " + p.Keys.ExternalEditor.Help().Key + " in your editor"
	default:
		val = []string{ff.line.View(s, iw)}
	}
	vs := s.Value
	if focused {
		vs = s.ValueFocused
	}
	var out []string
	for i, v := range val {
		l := ""
		if i == 0 {
			l = label
		}
		if !ff.isText() { // the text inputs draw in these styles themselves
			v = vs.Render(v)
		}
		line := mark + ls.Render(pad(l, labelWidth)) + " " + v
		if i == 0 && focused && hint != "" && ff.f.Type != model.TypeLongText {
			line = joinRight(line, s.Hint.Render(hint), p.Width)
		}
		out = append(out, line)
		mark = "  "
	}
	if focused && ff.f.Type == model.TypeLongText {
		out = append(out, strings.Repeat(" ", labelWidth+3)+s.Hint.Render(hint))
	}
	if focused && ff.escaped {
		note := "holds hidden characters, shown as escapes: saved as it was unless you edit it, then as shown"
		out = append(out, strings.Repeat(" ", labelWidth+3)+s.Hint.Render(truncate(note, iw)))
	}
	if ff.err != "" {
		out = append(out, strings.Repeat(" ", labelWidth+3)+s.FieldError.Render(truncate("✗ "+ff.err, iw)))
	}
	return out
}
