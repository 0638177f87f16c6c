package model

import (
	"cmp"
	"strings"
	"time"
)

// Compare orders two values of the field for a sorted list: dates and
// times by the instant they name (never by their text, which may carry
// different offsets), numbers by value, false before true, text and tags
// alphabetically with case aside. A missing value (nil) sorts after every
// present one; callers that reverse the order keep it last.
func (f *Field) Compare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	switch f.Type {
	case TypeDate, TypeDateTime:
		ta, oka := instantOf(a)
		tb, okb := instantOf(b)
		if oka && okb {
			return ta.Compare(tb)
		}
	case TypeNumber:
		na, oka := a.(float64)
		nb, okb := b.(float64)
		if oka && okb {
			return cmp.Compare(na, nb)
		}
	case TypeBool:
		ba, oka := a.(bool)
		bb, okb := b.(bool)
		if oka && okb {
			switch {
			case ba == bb:
				return 0
			case bb:
				return -1
			}
			return 1
		}
	}
	return cmp.Compare(strings.ToLower(Format(a)), strings.ToLower(Format(b)))
}

// instantOf reads a stored date (YYYY-MM-DD, midnight UTC) or datetime.
func instantOf(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	t, err := ParseDateTime(s)
	return t, err == nil
}
