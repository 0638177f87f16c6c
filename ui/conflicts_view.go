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
	if col, ok := p.Schema.Collection(p.merge.conflict.Collection); ok && p.editing && p.long {
		return fitLines(p.mergeView(col), p.Height)
	}
	title := s.Title.Render(" Conflicts") + s.Muted.Render(" · "+plural(len(p.list), "to review", "to review"))
	lines := []string{title}
	if len(p.list) > 1 { // with one, [ and ] have nowhere to go
		lines[0] = joinRight(title, s.Muted.Render(p.Keys.PrevConflict.Help().Key+" "+p.Keys.NextConflict.Help().Key+" previous/next "), w)
	}
	top := p.listTop()
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
	lines = append(lines, truncate(s.Bold.Render(" "+sentence(singular(col))+" “"+conflictTitle(col, c)+"”")+s.Muted.Render(" · "+p.kindSentence(c)), w))
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
	cw := conflictColumn(w)
	lines := []string{s.ColHeader.Render(" " + pad("FIELD", 12) + " " + pad("BASE", cw) + " " + pad("MINE", cw) + " " + pad("THEIRS", cw) + " CHOICE")}
	for i, fc := range c.Fields {
		f, _ := col.Field(fc.Field)
		label := fc.Field
		if f != nil {
			label = fieldLabel(f)
		}
		ch, chosen := p.choices[c.RecordID][fc.Field]
		cell := func(v any, changed, picked bool) string {
			t := oneLine(valueText(f, v))
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
			s.DiffSame.Render(pad("  "+orDash(oneLine(valueText(f, fc.Base))), cw)) + " " +
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
	return append(lines, p.valuesView(c, c.Fields[p.field()], col)...)
}

// conflictColumn is the width of each of the base, mine and theirs
// columns of the field table at width w; the field's label takes 14 cells
// before them.
func conflictColumn(w int) int { return max(8, (w-14-12-5)/3) }

// valuesView shows the selected field's three values in full, with the part
// each side changed set off, and what applying writes: the result chosen,
// or for tags not chosen yet, both sides merged as sets, proposed.
func (p *conflictsPane) valuesView(c model.Conflict, fc model.FieldConflict, col *model.Collection) []string {
	s := p.Styles
	label := fc.Field
	f, known := col.Field(fc.Field)
	if known {
		label = fieldLabel(f)
	}
	vw := max(10, p.Width-12)
	lines := []string{s.Group.Render(" " + sentence(label))}
	base := safeText(valueText(f, fc.Base))
	row := func(name, v string, changed bool) {
		text := orDash(v)
		if changed {
			text = highlightChange(s, base, v)
		}
		for i, l := range strings.Split(ansi.Wrap(text, vw, " "), "\n") {
			if i >= valueLines {
				break
			}
			if i > 0 {
				name = ""
			}
			lines = append(lines, "   "+s.Label.Render(pad(name, 8))+l)
		}
	}
	row("base", base, false)
	row("mine", safeText(valueText(f, fc.Mine)), !model.Equal(fc.Mine, fc.Base))
	row("theirs", safeText(valueText(f, fc.Theirs)), !model.Equal(fc.Theirs, fc.Base))
	ch, chosen := p.choices[c.RecordID][fc.Field]
	switch {
	case chosen:
		v := fc.Mine
		switch ch.Take {
		case model.TakeTheirs:
			v = fc.Theirs
		case model.TakeValue:
			v = ch.Value
		}
		// The result is shown whole (up to resultLines), as it will be written.
		for i, l := range strings.Split(ansi.Wrap(orDash(safeText(valueText(f, v))), vw, " "), "\n") {
			if i == resultLines {
				lines = append(lines, "           "+s.Muted.Render("…"))
				break
			}
			name := ""
			if i == 0 {
				name = "result"
			}
			lines = append(lines, "   "+s.Chosen.Render(pad(name, 8))+l)
		}
	case known && f.Type == model.TypeTags:
		both := model.Format(model.MergeTags(fc.Base, fc.Mine, fc.Theirs))
		lines = append(lines, truncate("   "+s.Label.Render(pad("merged", 8))+safeLine(orDash(both))+
			s.Hint.Render("  ← "+p.Keys.TakeBoth.Help().Key+" takes it: added on either side, less what either removed"), p.Width))
	}
	return lines
}

// Lines of a value the review shows: each side's value, and the result.
const (
	valueLines  = 3
	resultLines = 6
)

// mergeView is the review while a long text is merged: both sides, and
// the merged text being typed (or written in the person's editor), of the
// record and field the typing is for.
func (p *conflictsPane) mergeView(col *model.Collection) string {
	s := p.Styles
	w := p.Width
	c, fc := p.merge.conflict, p.merge.field
	label := fc.Field
	if f, ok := col.Field(fc.Field); ok {
		label = fieldLabel(f)
	}
	lines := []string{
		truncate(s.Title.Render(" Merging the "+label)+s.Muted.Render(" of "+singular(col)+" “"+conflictTitle(col, c)+"” · "+p.kindSentence(c)), w),
		"",
	}
	vw := max(10, w-12)
	side := func(name string, v any) {
		for i, l := range strings.Split(ansi.Wrap(orDash(safeText(model.Format(v))), vw, " "), "\n") {
			if i >= 2 {
				lines = append(lines, "           "+s.Muted.Render("…"))
				break
			}
			if i > 0 {
				name = ""
			}
			lines = append(lines, "   "+s.Label.Render(pad(name, 8))+l)
		}
	}
	side("mine", fc.Mine)
	side("theirs", fc.Theirs)
	lines = append(lines, "", s.Group.Render(" Merged "+label+" (what applying writes)"))
	foot := []string{s.Hint.Render(" " + p.Keys.Save.Help().Key + " keeps this text · " + p.Keys.ExternalEditor.Help().Key +
		" in your editor · " + p.Keys.Back.Help().Key + " cancels")}
	if p.notice != "" {
		foot = append(foot, s.Warn.Render(" "+p.notice))
	}
	h := max(3, p.Height-len(lines)-len(foot))
	for _, l := range strings.Split(p.area.View(s, w-3, h), "\n") {
		lines = append(lines, "   "+l)
	}
	return strings.Join(append(lines, foot...), "\n")
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

// ShortHelp lists the review keys that act on what is shown.
func (p *conflictsPane) ShortHelp() []key.Binding {
	k := p.Keys
	if p.editing && p.long {
		return []key.Binding{k.Save, k.ExternalEditor, k.Back}
	}
	if p.editing {
		return []key.Binding{k.Open, k.Back}
	}
	c, _, ok := p.current()
	var b []key.Binding
	switch {
	case !ok:
		return nil
	case isDelete(c):
		b = []key.Binding{k.TakeMine, k.TakeTheirs, k.Apply}
	case p.tagsUnder():
		b = []key.Binding{k.TakeMine, k.TakeTheirs, k.TakeBoth, k.Apply, k.EditValue, k.AllMine, k.AllTheirs}
	default:
		b = []key.Binding{k.TakeMine, k.TakeTheirs, k.EditValue, k.Apply, k.AllMine, k.AllTheirs}
	}
	if len(p.list) > 1 {
		b = append(b, k.NextConflict)
	}
	return b
}

// tagsUnder reports whether the field under the cursor is a tags field.
func (p *conflictsPane) tagsUnder() bool {
	c, col, ok := p.current()
	if !ok || isDelete(c) || len(c.Fields) == 0 {
		return false
	}
	f, ok := col.Field(c.Fields[p.field()].Field)
	return ok && f.Type == model.TypeTags
}

// FullHelp lists every review key that acts on the conflict shown: a
// delete conflict is taken as a whole, with no fields to move between,
// merge or take both of.
func (p *conflictsPane) FullHelp() [][]key.Binding {
	k := p.Keys
	if p.editing {
		return [][]key.Binding{p.ShortHelp()}
	}
	c, col, ok := p.current()
	if !ok {
		return nil
	}
	var move []key.Binding
	if !isDelete(c) && len(c.Fields) > 1 {
		move = append(move, p.fields.Bindings()[:2]...)
	}
	if len(p.list) > 1 {
		move = append(move, k.NextConflict, k.PrevConflict)
	}
	var cols [][]key.Binding
	if len(move) > 0 {
		cols = append(cols, move)
	}
	if isDelete(c) {
		return append(cols, []key.Binding{k.TakeMine, k.TakeTheirs, k.Apply})
	}
	more := []key.Binding{k.EditValue, k.Apply}
	if slices.ContainsFunc(c.Fields, func(fc model.FieldConflict) bool {
		f, ok := col.Field(fc.Field)
		return ok && f.Type == model.TypeTags
	}) {
		more = append([]key.Binding{k.TakeBoth}, more...)
	}
	return append(cols, []key.Binding{k.TakeMine, k.TakeTheirs, k.AllMine, k.AllTheirs}, more)
}
