package model

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func policySchema(t testing.TB) *Collection {
	t.Helper()
	s, err := ParseSchema([]byte(`
[[collection]]
name = "matter"
  [[collection.field]]
  name = "title"
  type = "text"
  [[collection.field]]
  name = "status"
  type = "text"
  merge = "last-writer-wins"
  [[collection.field]]
  name = "court"
  type = "text"
  merge = "server-wins"
  [[collection.field]]
  name = "tags"
  type = "tags"
`))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection("matter")
	return c
}

func TestThreeWay(t *testing.T) {
	c := policySchema(t)
	current := Fields{"title": "A", "status": "open", "court": "High", "tags": []string{"x"}}
	// The record is at version 5: title changed at 4, status at 5, court at 3, tags at 2.
	fv := map[string]int64{"title": 4, "status": 5, "court": 3, "tags": 2}
	cases := []struct {
		name      string
		base      int64
		changes   Fields
		apply     Fields
		dropped   []string
		conflicts []string
		merged    bool
	}{
		{"on current version", 5, Fields{"title": "B"}, Fields{"title": "B"}, nil, nil, false},
		{"untouched field on old base", 3, Fields{"tags": []string{"y"}}, Fields{"tags": []string{"y"}}, nil, nil, true},
		{"overlap under review", 3, Fields{"title": "B", "tags": []string{"y"}}, nil, nil, []string{"title"}, true},
		{"overlap with the same value", 3, Fields{"title": "A"}, Fields{}, nil, nil, true},
		{"last writer wins", 4, Fields{"status": "closed"}, Fields{"status": "closed"}, nil, nil, true},
		{"server wins", 2, Fields{"court": "Low", "tags": []string{"z"}}, Fields{"tags": []string{"z"}}, []string{"court"}, nil, true},
		{"clearing a field", 5, Fields{"court": nil}, Fields{"court": nil}, nil, nil, false},
		{"unchanged value is not applied", 5, Fields{"title": "A"}, Fields{}, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ThreeWay(c, 5, current, fv, tc.base, tc.changes)
			if !fieldsEqual(m.Apply, tc.apply) || !slices.Equal(m.Dropped, tc.dropped) || !slices.Equal(m.Conflicts, tc.conflicts) || m.Merged != tc.merged {
				t.Errorf("got %+v\nwant apply=%v dropped=%v conflicts=%v merged=%v", m, tc.apply, tc.dropped, tc.conflicts, tc.merged)
			}
		})
	}
}

func fieldsEqual(a, b Fields) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestResolveEdit(t *testing.T) {
	c := policySchema(t)
	conf := Conflict{
		RecordID: NewID(), Collection: "matter", Kind: ConflictEdit, BaseVersion: 2, TheirsVersion: 4,
		Fields: []FieldConflict{{Field: "title", Base: "A", Mine: "B", Theirs: "C"}, {Field: "court", Base: "x", Mine: "y", Theirs: "z"}},
		Mine:   Fields{"title": "B", "court": "y", "tags": []string{"t"}},
		Theirs: Fields{"title": "C", "court": "z"},
	}
	cases := []struct {
		name string
		r    Resolution
		want Fields // nil: no op
		err  bool
	}{
		{"all mine", Resolution{All: TakeMine}, Fields{"title": "B", "court": "y", "tags": []string{"t"}}, false},
		{"all theirs keeps my other edits", Resolution{All: TakeTheirs}, Fields{"tags": []string{"t"}}, false},
		{"per field", Resolution{Fields: map[string]Choice{"title": {Take: TakeMine}, "court": {Take: TakeTheirs}}}, Fields{"title": "B", "tags": []string{"t"}}, false},
		{"typed value", Resolution{All: TakeTheirs, Fields: map[string]Choice{"title": {Take: TakeValue, Value: "B and C"}}}, Fields{"title": "B and C", "tags": []string{"t"}}, false},
		{"missing choice", Resolution{Fields: map[string]Choice{"title": {Take: TakeMine}}}, nil, true},
		{"not a conflicting field", Resolution{All: TakeMine, Fields: map[string]Choice{"tags": {Take: TakeMine}}}, nil, true},
		{"invalid typed value", Resolution{All: TakeMine, Fields: map[string]Choice{"title": {Take: TakeValue, Value: 3.0}}}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op, err := conf.Resolve(c, tc.r, "op")
			if tc.err {
				if err == nil {
					t.Fatalf("want an error, got %+v", op)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if op == nil || op.Kind != OpUpdate || op.BaseVersion != 4 || !fieldsEqual(op.Fields, tc.want) {
				t.Fatalf("got %+v, want update on version 4 with %v", op, tc.want)
			}
		})
	}
	// Theirs everywhere with nothing else of mine: nothing to send.
	conf.Mine = Fields{"title": "B", "court": "y"}
	if op, err := conf.Resolve(c, Resolution{All: TakeTheirs}, "op"); err != nil || op != nil {
		t.Errorf("all theirs = %+v, %v; want no op", op, err)
	}
}

func TestResolveDeletes(t *testing.T) {
	c := policySchema(t)
	de := Conflict{RecordID: "r", Collection: "matter", Kind: ConflictDeleteEdit, TheirsVersion: 7, Theirs: Fields{"title": "T"}}
	if op, err := de.Resolve(c, Resolution{All: TakeMine}, "op"); err != nil || op.Kind != OpDelete || op.BaseVersion != 7 {
		t.Errorf("delete anyway = %+v, %v", op, err)
	}
	if op, err := de.Resolve(c, Resolution{All: TakeTheirs}, "op"); err != nil || op != nil {
		t.Errorf("keep = %+v, %v", op, err)
	}
	if _, err := de.Resolve(c, Resolution{}, "op"); err == nil {
		t.Error("a delete conflict needs mine or theirs")
	}
	// A conflict stored without the server's fields restores the last
	// copy this device knew, with its edits on top.
	ed := Conflict{RecordID: "r", Collection: "matter", Kind: ConflictEditDeleted, TheirsVersion: 9,
		Fields: []FieldConflict{{Field: "court", Base: "High"}, {Field: "title", Base: "Old"}}, Mine: Fields{"title": "New"}}
	op, err := ed.Resolve(c, Resolution{All: TakeMine}, "op")
	if err != nil || op.Kind != OpCreate || op.BaseVersion != 9 || !fieldsEqual(op.Fields, Fields{"title": "New", "court": "High"}) {
		t.Errorf("restore = %+v, %v", op, err)
	}
	if op, err := ed.Resolve(c, Resolution{All: TakeTheirs}, "op"); err != nil || op != nil {
		t.Errorf("stay deleted = %+v, %v", op, err)
	}
}

// TestRestoreStartsFromTheirs: "restore with my edits" starts from the
// fields the server last held and lays this device's changes on top by
// the field rules; a field this device did not change keeps the server's
// value, even where this device's copy was older.
func TestRestoreStartsFromTheirs(t *testing.T) {
	c := policySchema(t)
	ed := Conflict{RecordID: "r", Collection: "matter", Kind: ConflictEditDeleted, TheirsVersion: 4,
		Fields: []FieldConflict{
			{Field: "court", Base: "High", Mine: "Crown", Theirs: "County"},        // both changed; server-wins
			{Field: "status", Base: "draft", Mine: "open", Theirs: "closed"},       // both changed; last-writer-wins
			{Field: "tags", Base: []string{"a"}, Mine: []string{"a"}, Theirs: nil}, // cleared there, untouched here
			{Field: "title", Base: "T", Mine: "T", Theirs: "T2"},                   // changed there only
		},
		Mine:   Fields{"court": "Crown", "status": "open"},
		Theirs: Fields{"court": "County", "status": "closed", "title": "T2"}}
	op, err := ed.Resolve(c, Resolution{All: TakeMine}, "op")
	want := Fields{"court": "County", "status": "open", "title": "T2"}
	if err != nil || op.Kind != OpCreate || op.BaseVersion != 4 || !fieldsEqual(op.Fields, want) {
		t.Fatalf("restore = %+v, %v; want a create of %v", op, err, want)
	}
	// A change of a field the server left alone applies under any policy.
	ed.Fields[0].Theirs, ed.Theirs["court"] = "High", "High"
	if op, _ := ed.Resolve(c, Resolution{All: TakeMine}, "op"); op.Fields["court"] != "Crown" {
		t.Errorf("court = %v, want Crown: the server had not changed it", op.Fields["court"])
	}
}

// TestRestoreOfTooLittleIsRefused: a device that holds only its own
// change of a deleted record (a repair's stand-in, and a delete that kept
// no fields) cannot restore it: the create would lack what the schema
// requires, and the server would refuse it. The resolution says so, and
// keeping it deleted still works.
func TestRestoreOfTooLittleIsRefused(t *testing.T) {
	note, _ := testSchema(t).Collection("note")
	ed := Conflict{RecordID: "r", Collection: "note", Kind: ConflictEditDeleted, TheirsVersion: 3,
		Fields: []FieldConflict{{Field: "body", Mine: "my text"}}, Mine: Fields{"body": "my text"}, Theirs: Fields{}}
	op, err := ed.Resolve(note, Resolution{All: TakeMine}, "op")
	if err == nil || op != nil || !strings.Contains(err.Error(), "too little") || !strings.Contains(err.Error(), "title") {
		t.Fatalf("restore of a body alone = %+v, %v; want it refused, naming the missing title", op, err)
	}
	if op, err := ed.Resolve(note, Resolution{All: TakeTheirs}, "op"); err != nil || op != nil {
		t.Fatalf("stay deleted = %+v, %v", op, err)
	}
	ed.Theirs = Fields{"matter_id": "0190b0e5-7c2a-7d4e-8b5a-3f0c2a1b4c5d", "title": "T"}
	if op, err := ed.Resolve(note, Resolution{All: TakeMine}, "op"); err != nil || op.Fields["title"] != "T" || op.Fields["body"] != "my text" {
		t.Fatalf("restore from the server's last copy = %+v, %v", op, err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(`{"title":"x","tags":["a","b"],"status":"open"}`)
	f.Add(`{"matter_id":"0190b0e5-7c2a-7d4e-8b5a-3f0c2a1b4c5d","title":"\u0000"}`)
	f.Add(`{"tags":[null,{}],"body":1e309}`)
	s := testSchema(f)
	note, _ := s.Collection("note")
	f.Fuzz(func(t *testing.T, in string) {
		var fields Fields
		if json.Unmarshal([]byte(in), &fields) != nil {
			return
		}
		out, probs := note.Validate(fields, false)
		if len(probs) > 0 {
			return
		}
		// A normalised record validates again to itself.
		again, probs := note.Validate(out, false)
		if len(probs) > 0 || !fieldsEqual(out, again) {
			t.Fatalf("normalise is not stable: %v -> %v (%v)", out, again, probs)
		}
	})
}

func FuzzThreeWay(f *testing.F) {
	f.Add(int64(3), int64(5), "title", "B", int64(4))
	f.Add(int64(5), int64(5), "court", "", int64(0))
	c := policySchema(f)
	f.Fuzz(func(t *testing.T, base, version int64, field, value string, fieldVersion int64) {
		if _, ok := c.Field(field); !ok || version < 0 || base < 0 || base > version || fieldVersion > version {
			return
		}
		current := Fields{"title": "A", "status": "s", "court": "c"}
		m := ThreeWay(c, version, current, map[string]int64{field: fieldVersion}, base, Fields{field: value})
		if len(m.Conflicts) > 0 && m.Apply != nil {
			t.Fatal("a conflict must apply nothing")
		}
		if fieldVersion <= base && len(m.Conflicts)+len(m.Dropped) > 0 {
			t.Fatalf("a field untouched since the base cannot overlap: %+v", m)
		}
		if Equal(current[field], value) && len(m.Apply)+len(m.Conflicts) > 0 {
			t.Fatalf("an edit to the current value is a no-op: %+v", m)
		}
		if !m.Merged && version != base {
			t.Fatal("an update on an older base is merged")
		}
	})
}
