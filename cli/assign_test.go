package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"casefile/model"
)

func mustCollection(t testing.TB, name string) *model.Collection {
	t.Helper()
	c, err := collection(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testTyping reads typed times in Paris (UTC+1 in December), days first,
// on Monday 14 December 2026 at noon.
var testTyping = model.Input{
	Now:   time.Date(2026, 12, 14, 12, 0, 0, 0, time.FixedZone("CET", 3600)),
	Zone:  time.FixedZone("CET", 3600),
	Order: model.DMY,
}

// TestParseAssignmentsReadsTimesInTheUsersZone: a hearing's start typed
// as people type it is read in the person's zone and kept in UTC; a
// typo says what would have worked.
func TestParseAssignmentsReadsTimesInTheUsersZone(t *testing.T) {
	t.Parallel()
	hearing := mustCollection(t, "hearing")
	for typed, want := range map[string]string{
		"tomorrow 9:30am":           "2026-12-15T08:30:00Z",
		"15/12 14:00":               "2026-12-15T13:00:00Z",
		"2026-12-15 09:30":          "2026-12-15T08:30:00Z",
		"2026-12-15T09:30:00-05:00": "2026-12-15T14:30:00Z",
	} {
		got, err := parseAssignments(hearing, []string{"starts_at=" + typed}, testTyping)
		if err != nil || got["starts_at"] != want {
			t.Errorf("starts_at=%s: %v, %v; want %s", typed, got["starts_at"], err, want)
		}
	}
	_, err := parseAssignments(hearing, []string{"starts_at=next tuesday-ish"}, testTyping)
	if err == nil || !strings.Contains(err.Error(), "hearing.starts_at") || !strings.Contains(err.Error(), `"tomorrow 14:00"`) {
		t.Errorf("a bad time: %v; want the field named and an example", err)
	}
}

func TestParseAssignments(t *testing.T) {
	t.Parallel()
	task := mustCollection(t, "task")
	got, err := parseAssignments(task, []string{
		"title=Call the clerk = today", "done=yes", "due_on=2026-12-01", "assignee=", " priority =high",
	}, testTyping)
	if err != nil {
		t.Fatal(err)
	}
	want := model.Fields{
		"title": "Call the clerk = today", "done": true, "due_on": "2026-12-01", "assignee": nil, "priority": "high",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	note := mustCollection(t, "note")
	got, err = parseAssignments(note, []string{"tags=a, b,,a"}, testTyping)
	if err != nil {
		t.Fatal(err)
	}
	norm, probs := note.Validate(got, false)
	if len(probs) > 0 || !reflect.DeepEqual(norm["tags"], []string{"a", "b"}) {
		t.Fatalf("tags = %#v, %v", norm["tags"], probs)
	}
}

func TestParseAssignmentsErrors(t *testing.T) {
	t.Parallel()
	entry := mustCollection(t, "time_entry")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"minutes"}, []string{`"minutes" is not field=value (missing "=";`, "fields of time_entry: matter_id, description"}},
		{[]string{"=5"}, []string{`"=5" has no field name`}},
		{[]string{"minuts=5"}, []string{`time_entry.minuts: no such field (fields: matter_id, description, worked_on, minutes, billable)`}},
		{[]string{"minutes=5", "minutes=6"}, []string{`time_entry.minutes: is given more than once`}},
		{[]string{"minutes=lots"}, []string{`time_entry.minutes: not a duration: "lots" (try "90", "90m", "1h30" or "1.5h")`}},
		{[]string{"billable=perhaps", "minutes=x"}, []string{`time_entry.billable: not true or false: "perhaps"`, `time_entry.minutes: not a duration: "x" (try`}},
		{[]string{"minutes=x", "minutes=y"}, []string{`time_entry.minutes: not a duration: "x" (try`, `time_entry.minutes: is given more than once`}},
	}
	for _, tc := range cases {
		_, err := parseAssignments(entry, tc.args, testTyping)
		if err == nil {
			t.Errorf("%q: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", tc.args, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %q", tc.args, err)
		}
	}
}

// FuzzParseAssignments checks that any argument list either parses into
// fields of the collection, each given once, or fails with a one-line error.
func FuzzParseAssignments(f *testing.F) {
	for _, seed := range []string{
		"title=x", "title=", "=", "title", "tags=a,b", "done=yes", "minutes=12.5",
		"title=a=b", "nosuch=1", "title=x\x00title=y", "due_on=2026-02-30", "status=draft",
		"title=\xff", "matter_id=0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41",
	} {
		f.Add("note", seed)
		f.Add("time_entry", seed)
	}
	f.Fuzz(func(t *testing.T, name, joined string) {
		col, err := collection(name)
		if err != nil {
			return
		}
		args := strings.Split(joined, "\x00")
		fields, err := parseAssignments(col, args, testTyping)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(fields) != len(args) {
			t.Fatalf("%d fields from %d arguments", len(fields), len(args))
		}
		for name, v := range fields {
			fd, ok := col.Field(name)
			if !ok {
				t.Fatalf("unknown field %q accepted", name)
			}
			// Whatever parsed has the Go type Normalize expects; its value
			// may still break a rule (a bad date, invalid UTF-8).
			if _, err := fd.Normalize(v); err != nil {
				for _, typeErr := range []string{"must be a string", "must be a number", "must be true or false", "must be a list"} {
					if strings.HasPrefix(err.Error(), typeErr) {
						t.Fatalf("%s: ParseInput gave %#v of the wrong type: %v", name, v, err)
					}
				}
			}
		}
	})
}
