package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"casefile/model"
)

// conflictListRows is how many conflicts the list at the top shows.
const conflictListRows = 4

// View draws the list of conflicts and the selected one field by field.
func (p *conflictsPane) View() string {
	s := p.Styles
	w := p.Width
	switch {
	case p.err != nil:
		return s.Error.Render(" The conflicts could not be read: " + p.err.Error())
	case !p.loaded:
		return s.Muted.Render(" Loading…")
	case len(p.list) == 0:
		return s.OK.Render(" ✓ No conflicts.") + s.Muted.Render(" When you and someone else change the same field, it waits here for you.")
	}
	lines := []string{joinRight(s.Title.Render(" Conflicts")+s.Muted.Render(" · "+plural(len(p.list), "to review", "to review")),
		s.Muted.Render("[ ] previous/next "), w)}
	top := clamp(p.sel-conflictListRows+1, 0, max(0, len(p.list)-conflictListRows))
	for i := top; i < len(p.list) && i < top+conflictListRows; i++ {
		c := p.list[i]
		col, ok := p.Schema.Collection(c.Collection)
		if !ok {
			continue
		}
		what := fmt.Sprintf("%s “%s”", sentence(singular(col)), conflictTitle(col, c))
		detail := plural(len(c.Fields), "field", "fields")
		if isDelete(c) {
			detail = "deleted on one side"
		}
		line := pad(" ≠ "+what, w-24) + " " + pad(detail, 22)
		if i == p.sel {
			lines = append(lines, s.RowSelected.Render(pad("▸"+line[1:], w)))
		} else {
			lines = append(lines, s.Row.Render(line))
		}
	}
	lines = append(lines, s.Rule.Render(strings.Repeat("─", w)))
	c, col, ok := p.current()
	if !ok {
		return strings.Join(lines, "\n")
	}
	lines = append(lines, s.Bold.Render(" "+sentence(singular(col))+" “"+conflictTitle(col, c)+"”")+s.Muted.Render(" · "+kindSentence(c.Kind)))
	if isDelete(c) {
		lines = append(lines, p.deleteView(c, col)...)
	} else {
		lines = append(lines, p.fieldsView(c, col)...)
	}
	if p.editing {
		lines = append(lines, "", " "+p.input.View(s, w-3), s.Hint.Render(" enter keeps this value · esc cancels"))
	}
	if p.notice != "" {
		lines = append(lines, "", s.Warn.Render(" "+p.notice))
	}
	return fitLines(strings.Join(lines, "\n"), p.Height)
}

// choiceLabel says what was chosen for a field, in words and arrows.
func choiceLabel(ch model.Choice, ok bool) string {
	if !ok {
		return "? choose"
	}
	switch ch.Take {
	case model.TakeMine:
		return "← mine"
	case model.TakeTheirs:
		return "theirs →"
	}
	return "✎ " + oneLine(model.Format(ch.Value))
}

func (p *conflictsPane) fieldsView(c model.Conflict, col *model.Collection) []string {
	s := p.Styles
	w := p.Width
	cw := max(8, (w-14-12-5)/3)
	lines := []string{s.ColHeader.Render(" " + pad("FIELD", 12) + " " + pad("BASE", cw) + " " + pad("MINE", cw) + " " + pad("THEIRS", cw) + " CHOICE")}
	for i, fc := range c.Fields {
		f, _ := col.Field(fc.Field)
		label := fc.Field
		if f != nil {
			label = fieldLabel(f)
		}
		ch, chosen := p.choices[c.RecordID][fc.Field]
		cell := func(v any, changed, picked bool) string {
			t := oneLine(model.Format(v))
			if t == "" {
				t = "—"
			}
			mark := "  "
			st := s.DiffSame
			if changed {
				mark, st = "• ", s.DiffChanged
			}
			if picked {
				st = s.Chosen
			}
			return st.Render(pad(mark+t, cw))
		}
		mark := "  "
		if i == p.field() {
			mark = "▸ "
		}
		pickedMine := chosen && ch.Take == model.TakeMine
		pickedTheirs := chosen && ch.Take == model.TakeTheirs
		row := mark + pad(label, 11) + " " +
			s.DiffSame.Render(pad("  "+orDash(oneLine(model.Format(fc.Base))), cw)) + " " +
			cell(fc.Mine, !model.Equal(fc.Mine, fc.Base), pickedMine) + " " +
			cell(fc.Theirs, !model.Equal(fc.Theirs, fc.Base), pickedTheirs) + " "
		cs := s.Warn
		if chosen {
			cs = s.Chosen
		}
		row += cs.Render(truncate(choiceLabel(ch, chosen), max(1, w-lipgloss.Width(row))))
		if i == p.field() {
			row = s.Bold.Render(row)
		}
		lines = append(lines, row)
	}
	var kept []string
	for name := range c.Mine {
		if !slices.ContainsFunc(c.Fields, func(fc model.FieldConflict) bool { return fc.Field == name }) {
			kept = append(kept, name)
		}
	}
	slices.Sort(kept)
	lines = append(lines, s.Hint.Render(" • marks a value that changed since the version both sides started from."))
	if len(kept) > 0 {
		lines = append(lines, s.Muted.Render(" Your other changes are kept as they are: "+strings.Join(kept, ", ")+"."))
	}
	if ch, ok := p.choices[c.RecordID]; ok && len(ch) == len(c.Fields) {
		lines = append(lines, s.OK.Render(" Every field has a side. Press "+p.Keys.Apply.Help().Key+" to apply."))
	}
	lines = append(lines, "")
	return append(lines, p.valuesView(c.Fields[p.field()], col)...)
}

// valuesView shows the selected field's three values in full, with the part
// each side changed set off.
func (p *conflictsPane) valuesView(fc model.FieldConflict, col *model.Collection) []string {
	s := p.Styles
	label := fc.Field
	if f, ok := col.Field(fc.Field); ok {
		label = fieldLabel(f)
	}
	vw := max(10, p.Width-12)
	lines := []string{s.Group.Render(" " + sentence(label))}
	base := safeText(model.Format(fc.Base))
	row := func(name, v string, changed bool) {
		text := orDash(v)
		if changed {
			text = highlightChange(s, base, v)
		}
		for i, l := range strings.Split(ansi.Wrap(text, vw, " "), "\n") {
			if i >= 3 {
				break
			}
			if i > 0 {
				name = ""
			}
			lines = append(lines, "   "+s.Label.Render(pad(name, 8))+l)
		}
	}
	row("base", base, false)
	row("mine", safeText(model.Format(fc.Mine)), !model.Equal(fc.Mine, fc.Base))
	row("theirs", safeText(model.Format(fc.Theirs)), !model.Equal(fc.Theirs, fc.Base))
	return lines
}

// highlightChange sets off the part of v that differs from base: what is
// left between their common beginning and end.
func highlightChange(s *Styles, base, v string) string {
	if v == "" {
		return s.DiffChanged.Render("— (emptied)")
	}
	a, b := []rune(base), []rune(v)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	mid := string(b[pre : len(b)-suf])
	if mid == "" {
		return v
	}
	return string(b[:pre]) + s.DiffChanged.Render(mid) + string(b[len(b)-suf:])
}

func (p *conflictsPane) deleteView(c model.Conflict, col *model.Collection) []string {
	s := p.Styles
	var mine, theirs string
	if c.Kind == model.ConflictDeleteEdit {
		mine, theirs = "delete it anyway", "keep their changed version"
	} else {
		mine, theirs = "restore it with your changes", "leave it deleted"
	}
	t := p.whole[c.RecordID]
	opt := func(k key.Binding, label string, on bool) string {
		box := "( )"
		st := s.Row
		if on {
			box, st = "(•)", s.Chosen
		}
		return st.Render(fmt.Sprintf("   %s %s  %s", box, k.Help().Key, label))
	}
	lines := []string{
		opt(p.Keys.TakeMine, mine+" (mine)", t == model.TakeMine),
		opt(p.Keys.TakeTheirs, theirs+" (theirs)", t == model.TakeTheirs),
	}
	if len(c.Mine) > 0 {
		var names []string
		for n := range c.Mine {
			names = append(names, n)
		}
		slices.Sort(names)
		lines = append(lines, s.Muted.Render(" Your changes: "+strings.Join(names, ", ")+"."))
	}
	if t != "" {
		lines = append(lines, s.OK.Render(" Press "+p.Keys.Apply.Help().Key+" to apply."))
	}
	return lines
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ShortHelp lists the review keys.
func (p *conflictsPane) ShortHelp() []key.Binding {
	k := p.Keys
	if p.editing {
		return []key.Binding{k.Open, k.Back}
	}
	if c, _, ok := p.current(); ok && isDelete(c) {
		return []key.Binding{k.TakeMine, k.TakeTheirs, k.Apply, k.NextConflict}
	}
	return []key.Binding{k.TakeMine, k.TakeTheirs, k.AllMine, k.AllTheirs, k.EditValue, k.Apply, k.NextConflict}
}

// FullHelp lists every review key.
func (p *conflictsPane) FullHelp() [][]key.Binding {
	k := p.Keys
	return [][]key.Binding{
		append(p.fields.Bindings()[:2], k.NextConflict, k.PrevConflict),
		{k.TakeMine, k.TakeTheirs, k.AllMine, k.AllTheirs},
		{k.EditValue, k.Apply},
	}
}
