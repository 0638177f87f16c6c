package ui

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
)

// KeyMap is every key binding of the terminal UI. One map, built by
// DefaultKeyMap and changed only by the config file's overrides; panes
// match keys with key.Matches against it and bubbles/help shows it.
type KeyMap struct {
	// Global.
	Quit        key.Binding
	Help        key.Binding
	NextScreen  key.Binding
	PrevScreen  key.Binding
	Records     key.Binding
	Conflicts   key.Binding
	Backlog     key.Binding
	Activity    key.Binding
	Agenda      key.Binding
	WorkOffline key.Binding
	SyncNow     key.Binding
	Undo        key.Binding

	// Moving around.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	// HalfPageUp and HalfPageDown move half a page, as in less and vim.
	HalfPageUp   key.Binding
	HalfPageDown key.Binding
	Top          key.Binding
	Bottom       key.Binding
	PrevColl     key.Binding
	NextColl     key.Binding
	Open         key.Binding
	Back         key.Binding
	// ListUp and ListDown move through a list while a text input has the
	// keyboard, so they leave letters alone.
	ListUp   key.Binding
	ListDown key.Binding

	// Records.
	Search key.Binding
	Matter key.Binding
	New    key.Binding
	Edit   key.Binding
	Delete key.Binding
	// Sort cycles a list's sort column and direction.
	Sort key.Binding
	// MarkDone marks the task under the cursor done (or not done again)
	// in any list: records, the matter hub, the agenda, a task's detail.
	MarkDone key.Binding

	// The agenda (ui/agenda.go).
	MoreDays  key.Binding
	FewerDays key.Binding

	// A record's files (ui/attachments.go).
	AttachFile key.Binding
	NextFile   key.Binding
	FetchFile  key.Binding
	OpenFile   key.Binding
	RemoveFile key.Binding

	// Forms and dialogs.
	NextField key.Binding
	PrevField key.Binding
	Save      key.Binding
	// ExternalEditor edits a long text in $VISUAL or $EDITOR.
	ExternalEditor key.Binding
	Toggle         key.Binding
	Choose         key.Binding
	Confirm        key.Binding
	Cancel         key.Binding

	// Conflict review.
	TakeMine   key.Binding
	TakeTheirs key.Binding
	AllMine    key.Binding
	AllTheirs  key.Binding
	EditValue  key.Binding
	// TakeBoth merges a tags field as sets: what either side added, less
	// what either removed.
	TakeBoth     key.Binding
	Apply        key.Binding
	NextConflict key.Binding
	PrevConflict key.Binding
	ReviewRecord key.Binding
	RetryOne     key.Binding
	RetryAll     key.Binding
	Discard      key.Binding
	ClearFilter  key.Binding
	ChoiceLeft   key.Binding
	ChoiceRight  key.Binding
	ForceQuit    key.Binding
}

// DefaultKeyMap returns the bindings Casefile ships with.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:        b([]string{"q"}, "q", "quit"),
		Help:        b([]string{"?"}, "?", "all keys"),
		NextScreen:  b([]string{"tab"}, "tab", "screens"),
		PrevScreen:  b([]string{"shift+tab"}, "shift+tab", "previous screen"),
		Records:     b([]string{"1"}, "1", "records"),
		Conflicts:   b([]string{"2"}, "2", "conflicts"),
		Backlog:     b([]string{"3"}, "3", "backlog"),
		Activity:    b([]string{"4"}, "4", "activity"),
		Agenda:      b([]string{"5"}, "5", "agenda"),
		WorkOffline: b([]string{"o"}, "o", "work offline"),
		SyncNow:     b([]string{"s"}, "s", "sync now"),
		Undo:        b([]string{"u"}, "u", "undo last change"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown"}, "pgdn", "page down"),

		HalfPageUp:   b([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		HalfPageDown: b([]string{"ctrl+d"}, "ctrl+d", "half page down"),
		Top:          b([]string{"home", "g"}, "g", "first"),
		Bottom:       b([]string{"end", "G"}, "G", "last"),
		PrevColl:     b([]string{"left", "h"}, "←/h", "previous collection"),
		NextColl:     b([]string{"right", "l"}, "→/l", "next collection"),
		Open:         b([]string{"enter"}, "enter", "open"),
		Back:         b([]string{"esc"}, "esc", "back"),
		ListUp:       b([]string{"up", "ctrl+p"}, "↑", "up"),
		ListDown:     b([]string{"down", "ctrl+n"}, "↓", "down"),

		Search: b([]string{"/"}, "/", "search"),
		Matter: b([]string{"m"}, "m", "matter filter"),
		New:    b([]string{"n"}, "n", "new"),
		Edit:   b([]string{"e"}, "e", "edit"),
		Delete: b([]string{"d"}, "d", "delete"),
		Sort:   b([]string{"S"}, "S", "sort"),

		MarkDone:  b([]string{"space"}, "space", "task done"),
		MoreDays:  b([]string{"+", "="}, "+", "more days"),
		FewerDays: b([]string{"-"}, "-", "fewer days"),

		AttachFile: b([]string{"a"}, "a", "attach file"),
		NextFile:   b([]string{"f"}, "f", "next file"),
		FetchFile:  b([]string{"D"}, "D", "download file"),
		OpenFile:   b([]string{"O"}, "O", "open file"),
		RemoveFile: b([]string{"X"}, "X", "remove file"),

		NextField: b([]string{"tab", "down"}, "tab/↓", "next field"),
		PrevField: b([]string{"shift+tab", "up"}, "shift+tab/↑", "previous field"),
		Save:      b([]string{"ctrl+s"}, "ctrl+s", "save"),

		ExternalEditor: b([]string{"ctrl+e"}, "ctrl+e", "edit in $EDITOR"),

		Toggle:  b([]string{"space"}, "space", "toggle"),
		Choose:  b([]string{"enter"}, "enter", "choose"),
		Confirm: b([]string{"y"}, "y", "yes"),
		Cancel:  b([]string{"esc", "n"}, "esc/n", "no"),

		TakeMine:     b([]string{"m"}, "m", "take mine"),
		TakeTheirs:   b([]string{"t"}, "t", "take theirs"),
		AllMine:      b([]string{"M"}, "M", "all mine"),
		AllTheirs:    b([]string{"T"}, "T", "all theirs"),
		EditValue:    b([]string{"e"}, "e", "merge by hand"),
		TakeBoth:     b([]string{"b"}, "b", "merge tags"),
		Apply:        b([]string{"a"}, "a", "apply"),
		NextConflict: b([]string{"]"}, "]", "next conflict"),
		PrevConflict: b([]string{"["}, "[", "previous conflict"),
		ReviewRecord: b([]string{"c"}, "c", "review conflict"),
		RetryOne:     b([]string{"r"}, "r", "retry now"),
		RetryAll:     b([]string{"R"}, "R", "retry all now"),
		Discard:      b([]string{"x"}, "x", "discard"),
		ClearFilter:  b([]string{"backspace"}, "backspace", "clear filters"),
		ChoiceLeft:   b([]string{"left"}, "←", "previous choice"),
		ChoiceRight:  b([]string{"right"}, "→", "next choice"),
		ForceQuit:    b([]string{"ctrl+c"}, "ctrl+c", "quit"),
	}
}

// KeyNames lists the action names the config file may rebind, as
// lower_snake_case field names of KeyMap (e.g. "work_offline").
func KeyNames() []string {
	var names []string
	t := reflect.TypeFor[KeyMap]()
	for i := range t.NumField() {
		names = append(names, snake(t.Field(i).Name))
	}
	return names
}

// Override rebinds actions from the config file: action name (see
// KeyNames) to one or more keys as Bubble Tea spells them ("ctrl+s", "F").
// An unknown action or an empty key list is an error and changes nothing.
func (km *KeyMap) Override(keys map[string][]string) error {
	next := *km
	v := reflect.ValueOf(&next).Elem()
	byName := map[string]int{}
	for i := range v.NumField() {
		byName[snake(v.Type().Field(i).Name)] = i
	}
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ks := keys[name]
		i, ok := byName[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return fmt.Errorf("unknown key action %q (actions: %s)", name, strings.Join(KeyNames(), ", "))
		}
		if len(ks) == 0 || slices.Contains(ks, "") {
			return fmt.Errorf("key action %q needs at least one key", name)
		}
		b := v.Field(i).Addr().Interface().(*key.Binding)
		b.SetKeys(ks...)
		b.SetHelp(strings.Join(ks, "/"), b.Help().Desc)
	}
	*km = next
	return nil
}

func snake(s string) string {
	var out []rune
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				out = append(out, '_')
			}
			r += 'a' - 'A'
		}
		out = append(out, r)
	}
	return string(out)
}
