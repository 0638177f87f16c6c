package localdb

import (
	"database/sql"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"casefile/model"
)

// A pulled record's full-text entry is made from its fields as they come
// from the wire only when searchReadsBack says that reading them back from
// their JSON would give the same entry: drawn values of every searchable
// type (accepted and refused by the schema: text with line breaks or
// invalid UTF-8, numbers as float64 and json.Number, booleans, lists of
// mixed values, objects) never make it wrong, and both answers occur.
func TestSearchReadsBackOnlyWhenTheSame(t *testing.T) {
	col, ok := testSchema(t).Collection("note")
	if !ok {
		t.Fatal("no note collection")
	}
	values := []any{nil, "", "Hearing moved", "line\nbreak", "caf\xe9 au lait", "\xff", "Müller — Straße",
		"a\u2028b <&>", "open", "closed", 1.5, json.Number("1.50"), json.Number("7"), true,
		[]any{"court", "site"}, []any{"court", 3.0}, []any{"x\xffy"}, []any{}, []string{"b", "a", "b"},
		[]string{"bad\xfe"}, map[string]any{"k": "v"}}
	rnd := rand.New(rand.NewPCG(3, 4))
	fast, slow := 0, 0
	for range 4000 {
		in := model.Fields{}
		for _, name := range []string{"title", "body", "status", "tags"} {
			if v := values[rnd.IntN(len(values))]; v != nil || rnd.IntN(2) == 0 {
				in[name] = v
			}
		}
		fields := normalizeWire(col, in)
		fj, err := encodeFields(fields)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeFields(sql.NullString{String: fj, Valid: true})
		if err != nil {
			t.Fatal(err)
		}
		same := searchText(col, fields) == searchText(col, back)
		if !same {
			slow++
		}
		if searchReadsBack(col, fields) {
			fast++
			if !same {
				t.Fatalf("fields %#v: entry %q as they came, %q read back", fields, searchText(col, fields), searchText(col, back))
			}
		}
	}
	if fast == 0 || slow == 0 {
		t.Fatalf("the drawn fields did not reach both cases: %d taken as they came, %d read back differently", fast, slow)
	}
}
