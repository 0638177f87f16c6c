package model

import (
	"slices"
	"strings"
	"testing"

	"casefile/assets"
)

func TestChunkArithmetic(t *testing.T) {
	cases := []struct {
		size   int64
		chunks int
		last   int
	}{
		{0, 1, 0},
		{1, 1, 1},
		{ChunkSize, 1, ChunkSize},
		{ChunkSize + 1, 2, 1},
		{5*ChunkSize - 3, 5, ChunkSize - 3},
	}
	for _, c := range cases {
		if got := ChunkCount(c.size); got != c.chunks {
			t.Errorf("ChunkCount(%d) = %d, want %d", c.size, got, c.chunks)
		}
		if got := ChunkLen(c.size, c.chunks-1); got != c.last {
			t.Errorf("ChunkLen(%d, last) = %d, want %d", c.size, got, c.last)
		}
		if got := ChunkLen(c.size, c.chunks); got != -1 {
			t.Errorf("ChunkLen(%d, past the end) = %d, want -1", c.size, got)
		}
		var sum int64
		for n := range c.chunks {
			sum += int64(ChunkLen(c.size, n))
		}
		if sum != c.size {
			t.Errorf("chunks of %d add up to %d", c.size, sum)
		}
	}
}

func TestAttachmentFieldsRoundTripAndValidate(t *testing.T) {
	s, err := ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := s.Collection(AttachmentCollection)
	if !ok || !c.Hidden {
		t.Fatalf("schema has no hidden %q collection", AttachmentCollection)
	}
	for _, l := range s.Listed() {
		if l.Name == AttachmentCollection {
			t.Fatalf("Listed shows the hidden attachment collection")
		}
	}
	a := Attachment{ID: NewID(), MatterID: NewID(), RecordID: NewID(), Name: "scan.pdf", Size: 12345,
		MediaType: "application/pdf", SHA256: strings.Repeat("ab", 32)}
	if _, probs := c.Validate(a.Fields(), true); len(probs) > 0 {
		t.Fatalf("schema refuses an attachment: %v", probs)
	}
	back, err := AttachmentOf(a.ID, a.Fields())
	if err != nil || back != a {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, a)
	}
	bad := a.Fields()
	bad[AttachHashField] = strings.Repeat("AB", 32)
	if _, err := AttachmentOf(a.ID, bad); err == nil {
		t.Errorf("an upper-case digest was taken")
	}
	bad = a.Fields()
	bad[AttachSizeField] = 1.5
	if _, err := AttachmentOf(a.ID, bad); err == nil {
		t.Errorf("a fractional size was taken")
	}
}

// TestFileFactsAreFixed: an attachment's size and sha256 are its bytes'
// and no edit changes them; its name, its record and its matter may
// change. A fixed field given the value it has is no change.
func TestFileFactsAreFixed(t *testing.T) {
	s, err := ParseSchema(assets.Schema)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection(AttachmentCollection)
	a := Attachment{MatterID: NewID(), RecordID: NewID(), Name: "scan.pdf", Size: 12345, SHA256: strings.Repeat("ab", 32)}
	cur := a.Fields()
	for _, tc := range []struct {
		changes Fields
		want    []string
	}{
		{Fields{AttachSizeField: 12346.0}, []string{AttachSizeField}},
		{Fields{AttachHashField: strings.Repeat("cd", 32), AttachNameField: "x.pdf"}, []string{AttachHashField}},
		{Fields{AttachHashField: strings.Repeat("cd", 32), AttachSizeField: 1.0}, []string{AttachSizeField, AttachHashField}},
		{Fields{AttachSizeField: 12345.0, AttachHashField: strings.Repeat("ab", 32)}, nil},
		{Fields{AttachNameField: "x.pdf", AttachRecordField: NewID(), MatterField: NewID(), AttachTypeField: "text/plain"}, nil},
	} {
		norm, probs := c.Validate(tc.changes, false)
		if len(probs) > 0 {
			t.Fatalf("%v: %v", tc.changes, probs)
		}
		var got []string
		for _, p := range c.FixedProblems(cur, norm) {
			if p.Kind != ProblemFixed || p.Collection != AttachmentCollection || !strings.Contains(p.Message, "detach it and attach the new one") {
				t.Errorf("%v: problem %+v", tc.changes, p)
			}
			got = append(got, p.Field)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%v: fixed problems on %v, want %v", tc.changes, got, want)
		}
	}
	note, _ := s.Collection("note")
	if p := note.FixedProblems(Fields{"title": "a"}, Fields{"title": "b"}); len(p) > 0 {
		t.Errorf("a note's title is not fixed: %v", p)
	}
	fixed, err := ParseSchema([]byte(`
[[collection]]
name = "matter"
  [[collection.field]]
  name = "opened_on"
  type = "date"
  fixed = true
`))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := fixed.Collection(MatterCollection)
	p := m.FixedProblems(Fields{"opened_on": "2026-01-02"}, Fields{"opened_on": "2026-01-03"})
	if len(p) != 1 || p[0].Field != "opened_on" || !strings.Contains(p[0].Message, "make a new record instead") {
		t.Errorf("a fixed field of a schema's own: %v", p)
	}
}
