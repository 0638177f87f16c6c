package sqlstore

import (
	"encoding/json"
	"testing"

	"casefile/internal/fieldtext"
)

// textSeeds are fields texts on both sides of fieldtext.Canonical's line.
var textSeeds = []string{
	`{}`, `{"a":1}`, `{"a":null,"b":true,"c":false}`, `{"tags":["x","y"],"title":"A"}`, `{"t":[]}`,
	`{"b":1,"a":2}`, `{"a":1.0}`, `{"a":1e21}`, `{"a":-0}`, `{"a":9007199254740993}`,
	`{"a":"\u003c\u003e\u0026"}`, `{"a":"<"}`, `{"a":"\u2028"}`, `{"a":[1]}`, `{"a":["x",1]}`,
	`{"a":{"b":1}}`, `{"é":1,"z":2}`, `{ "a":1}`, `{"a":"\ud800"}`,
}

// FuzzCanonicalIsWhatAPullWrote: fields text the store leaves as text for
// a pull (fieldtext.Canonical) is what decoding it as the store does and
// encoding it again writes, so the answer is the same either way.
func FuzzCanonicalIsWhatAPullWrote(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !fieldtext.Canonical(s) {
			return
		}
		fields, err := decodeFields(s)
		if err != nil {
			t.Fatalf("canonical %q does not decode: %v", s, err)
		}
		if out, err := json.Marshal(fields); err != nil || string(out) != s {
			t.Fatalf("canonical %q encodes back as %q (%v)", s, out, err)
		}
	})
}
