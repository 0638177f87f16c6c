package model

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func testSchema(t testing.TB) *Schema {
	t.Helper()
	data, err := os.ReadFile("../assets/schema.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShippedSchema(t *testing.T) {
	s := testSchema(t)
	for _, name := range []string{"matter", "contact", "note", "task", "hearing", "time_entry", "document", "visit"} {
		if _, ok := s.Collection(name); !ok {
			t.Errorf("collection %q missing", name)
		}
	}
	note, _ := s.Collection("note")
	want := map[string]FieldType{"matter_id": TypeRef, "title": TypeText, "body": TypeLongText, "status": TypeEnum, "tags": TypeTags}
	for name, typ := range want {
		f, ok := note.Field(name)
		if !ok || f.Type != typ {
			t.Errorf("note.%s: got %+v, want type %s", name, f, typ)
		}
	}
	if f, _ := note.Field("status"); !slices.Equal(f.Values, []string{"draft", "open", "review", "closed"}) {
		t.Errorf("note.status values = %v", f.Values)
	}
	if f, _ := note.Field("title"); !f.Required {
		t.Error("note.title must be required")
	}
}

// TestEnumLabels: an enum's values read as their labels, given or by
// default (underscores as spaces); a value the schema does not list reads
// as itself.
func TestEnumLabels(t *testing.T) {
	s, err := ParseSchema([]byte("[[collection]]\nname='matter'\n" +
		"[[collection.field]]\nname='status'\ntype='enum'\nvalues=['intake','on_hold']\n" +
		"[[collection.field]]\nname='stage'\ntype='enum'\nvalues=['pre_trial','trial']\nlabels=['Before trial','At trial']"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection("matter")
	status, _ := c.Field("status")
	stage, _ := c.Field("stage")
	for _, tc := range []struct {
		f        *Field
		v, label string
	}{
		{status, "on_hold", "on hold"}, {status, "intake", "intake"}, {status, "archived_x", "archived_x"},
		{stage, "pre_trial", "Before trial"}, {stage, "trial", "At trial"},
	} {
		if got := tc.f.ChoiceLabel(tc.v); got != tc.label {
			t.Errorf("%s %q reads %q, want %q", tc.f.Name, tc.v, got, tc.label)
		}
	}
	if f, _ := testSchema(t).Collection(MatterCollection); f != nil {
		st, _ := f.Field("status")
		if got := st.ChoiceLabel("on_hold"); got != "on hold" {
			t.Errorf("the shipped schema's on_hold reads %q", got)
		}
	}
}

func TestParseSchemaErrors(t *testing.T) {
	cases := []struct{ name, toml, want string }{
		{"unknown key", "[[collection]]\nname='matter'\ncolour='red'", `unknown key "collection.colour"`},
		{"bad type", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='blob'", `unknown type "blob"`},
		{"enum without values", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='enum'", "an enum needs values"},
		{"no matter", "[[collection]]\nname='note'\n[[collection.field]]\nname='matter_id'\ntype='text'", `needs a required field "matter_id"`},
		{"dangling ref", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='ref'\nref='nope'", `unknown collection "nope"`},
		{"reserved field", "[[collection]]\nname='matter'\n[[collection.field]]\nname='version'\ntype='text'", `field name "version" is not allowed`},
		{"duplicate", "[[collection]]\nname='matter'\n[[collection]]\nname='matter'", "declared twice"},
		{"bad column", "[[collection]]\nname='matter'\ncolumns=['nope']\n[[collection.field]]\nname='x'\ntype='text'", `column "nope" is not a field`},
		{"bad policy", "[[collection]]\nname='matter'\nmerge='coin-toss'", `unknown merge policy`},
		{"labels short", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='enum'\nvalues=['a','b']\nlabels=['A']", "matter.x: 1 labels for 2 values"},
		{"label empty", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='enum'\nvalues=['a','b']\nlabels=['A',' ']", `value "b" has an empty label`},
		{"labels alike", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='enum'\nvalues=['a','b']\nlabels=['Same','same']", `values "a" and "b" both read "same"`},
		{"default labels alike", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='enum'\nvalues=['on_hold','on hold']", `values "on_hold" and "on hold" both read "on hold"`},
		{"labels off an enum", "[[collection]]\nname='matter'\n[[collection.field]]\nname='x'\ntype='text'\nlabels=['A']", "matter.x: only an enum has labels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tc.toml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	s := testSchema(t)
	matter := NewID()
	cases := []struct {
		coll   string
		fields string // JSON
		full   bool
		probs  []string // expected problem strings (substring match, in order)
	}{
		{"note", `{"matter_id":"` + matter + `","title":"Witness list"}`, true, nil},
		{"note", `{"title":"x"}`, true, []string{"note.matter_id: is required"}},
		{"note", `{"matter_id":"` + matter + `","title":""}`, true, []string{"note.title: is required and cannot be empty"}},
		{"note", `{"title":"x"}`, false, nil},
		{"note", `{"title":null}`, false, []string{"note.title: is required and cannot be empty"}},
		{"note", `{"body":null}`, false, nil},
		{"note", `{"colour":"red"}`, false, []string{`note.colour: no such field`}},
		{"note", `{"status":"lost"}`, false, []string{`note.status: "lost" is not one of: draft, open, review, closed`}},
		{"note", `{"tags":"a"}`, false, []string{"note.tags: must be a list of strings, not a string"}},
		{"note", `{"tags":[1]}`, false, []string{"note.tags: must be a list of strings, found a number"}},
		{"note", `{"matter_id":"not-an-id"}`, false, []string{`note.matter_id: not a valid matter id: "not-an-id"`}},
		{"note", `{"title":"a\nb"}`, false, []string{"note.title: is one line"}},
		{"hearing", `{"starts_at":"31/02"}`, false, []string{`hearing.starts_at: not a valid date/time: "31/02"`}},
		{"task", `{"due_on":"2026-02-30"}`, false, []string{`task.due_on: not a valid date (YYYY-MM-DD): "2026-02-30"`}},
		{"task", `{"done":"yes"}`, false, []string{"task.done: must be true or false, not a string"}},
		{"time_entry", `{"minutes":-5}`, false, []string{"time_entry.minutes: must be at least 0"}},
		{"time_entry", `{"minutes":"90"}`, false, []string{"time_entry.minutes: must be a number, not a string"}},
		{"note", `{"title":7,"status":"x"}`, false, []string{"note.status:", "note.title: must be a string"}},
	}
	for _, tc := range cases {
		c, _ := s.Collection(tc.coll)
		var fields Fields
		if err := json.Unmarshal([]byte(tc.fields), &fields); err != nil {
			t.Fatal(err)
		}
		_, probs := c.Validate(fields, tc.full)
		if len(probs) != len(tc.probs) {
			t.Errorf("%s %s: got problems %v, want %v", tc.coll, tc.fields, probs, tc.probs)
			continue
		}
		for i, p := range probs {
			if !strings.Contains(p.String(), tc.probs[i]) {
				t.Errorf("%s %s: problem %d = %q, want %q", tc.coll, tc.fields, i, p, tc.probs[i])
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	s := testSchema(t)
	note, _ := s.Collection("note")
	hearing, _ := s.Collection("hearing")
	out, probs := note.Validate(Fields{"tags": []any{" a ", "b", "a", ""}, "body": ""}, false)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if !slices.Equal(out["tags"].([]string), []string{"a", "b"}) {
		t.Errorf("tags = %v, want trimmed and deduplicated", out["tags"])
	}
	if v, ok := out["body"]; !ok || v != nil {
		t.Errorf("empty body should normalise to an explicit clear, got %v %v", v, ok)
	}
	// An instant is kept in UTC, whatever offset it was written with.
	out, probs = hearing.Validate(Fields{"starts_at": "2026-03-04T09:30:00+01:00"}, false)
	if len(probs) > 0 || out["starts_at"] != "2026-03-04T08:30:00Z" {
		t.Errorf("starts_at = %v %v, want 2026-03-04T08:30:00Z", out["starts_at"], probs)
	}
	big := strings.Repeat("x", MaxTextLen+1)
	if _, probs := note.Validate(Fields{"title": big}, false); len(probs) != 1 {
		t.Errorf("a title over %d characters must be refused", MaxTextLen)
	}
	if _, probs := note.Validate(Fields{"title": "\xff"}, false); len(probs) != 1 {
		t.Error("invalid UTF-8 must be refused")
	}
}

func TestParseInput(t *testing.T) {
	s := testSchema(t)
	task, _ := s.Collection("task")
	te, _ := s.Collection("time_entry")
	done, _ := task.Field("done")
	mins, _ := te.Field("minutes")
	for in, want := range map[string]any{"yes": true, "false": false, "": nil} {
		got, err := done.ParseInput(in)
		if err != nil || got != want {
			t.Errorf("bool %q = %v, %v", in, got, err)
		}
	}
	if _, err := done.ParseInput("maybe"); err == nil {
		t.Error("bool maybe must fail")
	}
	if v, err := mins.ParseInput(" 90 "); err != nil || v != 90.0 {
		t.Errorf("number = %v %v", v, err)
	}
	if _, err := mins.ParseInput("ninety"); err == nil {
		t.Error("number ninety must fail")
	}
}

func TestValidID(t *testing.T) {
	if !ValidID(NewID()) {
		t.Error("NewID is not valid")
	}
	for _, bad := range []string{"", "x", "0190b0e5-7c2a-7d4e-8b5a-3f0c2a1b4c5", "0190B0E5-7C2A-7D4E-8B5A-3F0C2A1B4C5D", "{0190b0e5-7c2a-7d4e-8b5a-3f0c2a1b4c5d}", "../../etc/passwd"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestProblemsError(t *testing.T) {
	var err error = Problems{{Collection: "note", Field: "title", Message: "is required"}}
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || err.Error() != "note.title: is required" {
		t.Errorf("got %v", err)
	}
	if (Problems{}).Err() != nil {
		t.Error("no problems must be a nil error")
	}
}

// TestNumbersKeptExactly: a number field holds what it is given or
// refuses it; a whole number a float64 would change is refused, typed or
// read from JSON.
func TestNumbersKeptExactly(t *testing.T) {
	f := &Field{Name: "size_bytes", Type: TypeNumber}
	for _, in := range []string{"9007199254740991", "-9007199254740991", "12.5", "1e15", "0", "000123"} {
		v, err := f.ParseInput(in)
		if err != nil {
			t.Errorf("ParseInput(%q): %v", in, err)
			continue
		}
		if _, err := f.Normalize(v); err != nil {
			t.Errorf("Normalize(ParseInput(%q)): %v", in, err)
		}
		if _, err := f.Normalize(json.Number(in)); err != nil {
			t.Errorf("Normalize(json.Number(%q)): %v", in, err)
		}
	}
	for _, in := range []string{"9007199254740992", "9007199254740993", "9007199254740993.0", "12345678901234567890", "-9007199254740993", "1e300"} {
		if v, err := f.ParseInput(in); err == nil {
			if _, err := f.Normalize(v); err == nil {
				t.Errorf("%q typed was taken", in)
			}
		}
		if _, err := f.Normalize(json.Number(in)); err == nil {
			t.Errorf("%q from JSON was taken", in)
		}
	}
}
