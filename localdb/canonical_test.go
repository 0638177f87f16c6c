package localdb

import (
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"

	"casefile/model"
)

// roundTrip is what the journal and the wire got of fields text before it
// could pass as it is: decoded, then encoded again.
func roundTrip(s string) (string, bool) {
	f, err := decodeFields(sql.NullString{String: s, Valid: true})
	if err != nil || f == nil {
		return "", false
	}
	out, err := encodeFields(f)
	return out, err == nil
}

// canonicalSeeds are fields texts on both sides of the line.
var canonicalSeeds = []string{
	`{}`, `{"a":1}`, `{"a":null,"b":true,"c":false}`, `{"tags":["x","y"],"title":"A"}`, `{"t":[]}`,
	`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{ "a":1}`, `{"a":1.0}`, `{"a":1e21}`, `{"a":1e+21}`, `{"a":-0}`,
	`{"a":0.000001}`, `{"a":1e-7}`, `{"a":9007199254740993}`, `{"a":"\u003c\u003e\u0026"}`, `{"a":"<"}`,
	`{"a":"\u003C"}`, `{"a":"\/"}`, `{"a":"\u0041"}`, `{"a":"\u0008"}`, `{"a":"\b\f\n\r\t\"\\"}`,
	`{"a":"\u001f\u0000"}`, `{"a":"\ufffd"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\u2028\"}", `{"a":"\u2028"}`,
	"{\"a\":\"\ufffd\"}", `{"a":[1]}`, `{"a":{"b":1}}`, `{"a\"":1}`, `{"é":1,"z":2}`, `{"z":2,"é":1}`,
	`{"a":1}x`, `{"a":1,}`, `{"a":nul}`, `{"a":"x"`, `null`, ``, `{"a":"\ud800"}`, `{"a":01}`, `{"a":.5}`,
}

// FuzzCanonicalFields: text canonicalFields lets through is exactly what
// decoding and encoding it again gives.
func FuzzCanonicalFields(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !canonicalFields(s) {
			return
		}
		if out, ok := roundTrip(s); !ok || out != s {
			t.Fatalf("canonical %q encodes back as %q (%v)", s, out, ok)
		}
	})
}

func TestCanonicalFieldsSeeds(t *testing.T) {
	passed := 0
	for _, s := range canonicalSeeds {
		if !canonicalFields(s) {
			continue
		}
		passed++
		if out, ok := roundTrip(s); !ok || out != s {
			t.Errorf("canonical %q encodes back as %q (%v)", s, out, ok)
		}
	}
	if passed < 10 {
		t.Fatalf("only %d seeds pass", passed)
	}
}

// TestEncodedFieldsAreCanonical: what encodeFields writes of the values a
// record holds (text with any character, numbers, flags, tag lists,
// cleared fields) passes as it is, so the raw path is the common one.
func TestEncodedFieldsAreCanonical(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	runes := []rune("aZ09 .,;:!?'\"\\/<>&\n\r\t\b\f\x00\x1f\x7féü€😀\u2028\u2029\ufffd")
	text := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		return b.String()
	}
	numbers := []float64{0, 1, -1, 0.5, 1e21, 1e20, 1e-6, 1e-7, 123456789.125, -3.25e-9, 9007199254740992}
	for range 2000 {
		f := model.Fields{}
		for range r.IntN(6) {
			var v any
			switch r.IntN(5) {
			case 0:
				v = text()
			case 1:
				v = numbers[r.IntN(len(numbers))]
			case 2:
				v = r.IntN(2) == 0
			case 3:
				var tags []string
				for range r.IntN(4) {
					tags = append(tags, text())
				}
				v = tags
			}
			f["f"+text()] = v
		}
		s, err := encodeFields(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, `\`) && !canonicalFields(s) {
			t.Fatalf("encoded %q is not taken as canonical", s)
		}
		keysPlain := true
		for k := range f {
			keysPlain = keysPlain && !strings.ContainsAny(k, "\"\\<>&\n\r\t\b\f\x00\x1f\u2028\u2029")
		}
		if keysPlain && !canonicalFields(s) {
			t.Fatalf("encoded %q with plain keys is not taken as canonical", s)
		}
		if canonicalFields(s) {
			if out, ok := roundTrip(s); !ok || out != s {
				t.Fatalf("canonical %q encodes back as %q", s, out)
			}
		}
	}
}
