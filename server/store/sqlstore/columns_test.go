package sqlstore

import (
	"reflect"
	"strings"
	"testing"
)

// TestColumnArrays: a set's rows become one typed array per column, and a
// column whose values change type is an error, not a panic or a wrong
// array.
func TestColumnArrays(t *testing.T) {
	rows := [][]any{{"a", int64(1), true}, {"b", int64(2), false}}
	set := rowSet{what: "test", cols: 3, n: len(rows), row: func(i int, args []any) []any { return append(args, rows[i]...) }}
	arrays, types, err := columnArrays(set)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]string{"a", "b"}, []int64{1, 2}, []bool{true, false}}
	if !reflect.DeepEqual(arrays, want) || !reflect.DeepEqual(types, []string{"text", "bigint", "boolean"}) {
		t.Fatalf("arrays %v %v, want %v", arrays, types, want)
	}
	rows[1][1] = "two"
	if _, _, err := columnArrays(set); err == nil || !strings.Contains(err.Error(), "row 1 column 1") {
		t.Fatalf("a column of mixed types: %v", err)
	}
	rows[1][1] = int64(2)
	rows[0] = append(rows[0], "extra")
	if _, _, err := columnArrays(set); err == nil || !strings.Contains(err.Error(), "row 0 has 4 values") {
		t.Fatalf("a row too long: %v", err)
	}
}
