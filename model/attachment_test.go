package model

import (
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
