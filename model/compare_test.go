package model

import "testing"

func TestCompareOrdersByValueWithMissingLast(t *testing.T) {
	when := &Field{Name: "at", Type: TypeDateTime}
	if c := when.Compare("2026-12-15T08:00:00-05:00", "2026-12-15T10:00:00Z"); c <= 0 {
		t.Errorf("08:00-05:00 (13:00Z) sorts before 10:00Z: %d", c)
	}
	day := &Field{Name: "on", Type: TypeDate}
	if c := day.Compare("2026-02-01", "2026-10-01"); c >= 0 {
		t.Errorf("dates out of order: %d", c)
	}
	n := &Field{Name: "n", Type: TypeNumber}
	if c := n.Compare(9.0, 10.0); c >= 0 {
		t.Errorf("9 after 10: %d", c)
	}
	if n.Compare(nil, 1.0) <= 0 || n.Compare(1.0, nil) >= 0 || n.Compare(nil, nil) != 0 {
		t.Error("a missing value does not sort last")
	}
	text := &Field{Name: "t", Type: TypeText}
	if c := text.Compare("apple", "Banana"); c >= 0 {
		t.Errorf("case decides the text order: %d", c)
	}
}
