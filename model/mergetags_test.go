package model

import (
	"slices"
	"testing"
)

func TestMergeTagsAsSets(t *testing.T) {
	for _, c := range []struct {
		name               string
		base, mine, theirs any
		want               []string
	}{
		{"both add", []string{"a"}, []string{"a", "m"}, []string{"a", "t"}, []string{"a", "m", "t"}},
		{"mine removes, theirs adds", []string{"a", "b"}, []string{"b"}, []string{"a", "b", "t"}, []string{"b", "t"}},
		{"theirs removes, mine adds", []string{"a", "b"}, []string{"a", "b", "m"}, []string{"a"}, []string{"a", "m"}},
		{"both add the same", []string{}, []string{"x"}, []any{"x"}, []string{"x"}},
		{"removed on one side, kept on the other", []string{"a"}, []string{"a"}, nil, []string{}},
		{"no base", nil, []any{"m"}, []string{"t", "m"}, []string{"m", "t"}},
		{"a removal wins over keeping", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"b", "c"}, []string{"c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := MergeTags(c.base, c.mine, c.theirs)
			if !slices.Equal(got, c.want) {
				t.Fatalf("MergeTags(%v, %v, %v) = %v, want %v", c.base, c.mine, c.theirs, got, c.want)
			}
		})
	}
}
