package fieldtext_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/internal/fieldtext"
	"casefile/internal/fieldtext/fieldtexttest"
)

// sameAsMarshal checks that an appender, given a prefix to append to, keeps
// it and appends what json.Marshal writes for v, or fails as it fails.
func sameAsMarshal(t *rapid.T, v any, appendTo func([]byte) ([]byte, error)) {
	prefix := []byte(rapid.SampledFrom([]string{"", "[", `{"a":`}).Draw(t, "prefix"))
	want, wantErr := json.Marshal(v)
	got, err := appendTo(prefix[:len(prefix):len(prefix)])
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("appended %q where json.Marshal fails: %v", got, wantErr)
	case wantErr != nil && err.Error() != wantErr.Error():
		t.Fatalf("failed with %q where json.Marshal fails with %q", err, wantErr)
	case wantErr != nil:
	case err != nil:
		t.Fatalf("failed (%v) where json.Marshal writes %q", err, want)
	case string(got) != string(prefix)+string(want):
		t.Fatalf("appended\n%q\nto %q where json.Marshal writes\n%q", got, prefix, want)
	}
}

// named, marshaler and failing are values AppendJSON does not know and
// must leave to json.Marshal.
type (
	named     string
	marshaler struct{ text string }
	failing   struct{}
)

func (m marshaler) MarshalJSON() ([]byte, error) { return []byte(m.text), nil }
func (failing) MarshalJSON() ([]byte, error)     { return nil, errors.New("no") }

// foreign draws values outside what AppendJSON writes itself, alone or
// inside lists and objects it does write.
func foreign() *rapid.Generator[any] {
	odd := rapid.SampledFrom([]any{
		math.NaN(), math.Inf(1), math.Inf(-1), float32(1e-7), float32(3.4e38), json.Number("12.50"), named("<b>"),
		marshaler{`{ "b" : [1, "<"] }`}, marshaler{`{"a":`}, failing{}, time.Date(2024, 2, 29, 1, 2, 3, 4, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), []byte("bytes"), map[string]int{"z": 1, "a": 2}, make(chan int),
		struct {
			A string `json:"a,omitempty"`
			B int
		}{B: 1}, []int(nil), uint8(200), int8(-3), json.RawMessage(`[ 1 ]`), &marshaler{`"ptr"`},
	})
	return rapid.OneOf(odd,
		rapid.Map(rapid.SliceOfN(rapid.OneOf(odd, fieldtexttest.Value(2)), 1, 3), func(a []any) any { return a }),
		rapid.Custom(func(t *rapid.T) any {
			return map[string]any{fieldtexttest.String().Draw(t, "key"): odd.Draw(t, "odd"), "x": fieldtexttest.Value(2).Draw(t, "value")}
		}),
	)
}

// TestAppendJSONIsMarshal: for what a record's fields hold and what
// decoding JSON gives (nested lists and objects, nil ones, strings with
// all encoding/json escapes, numbers of every magnitude), and for values
// it leaves to json.Marshal, AppendJSON writes what json.Marshal writes
// and fails where it fails, with its error.
func TestAppendJSONIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.OneOf(fieldtexttest.Value(0), foreign()).Draw(t, "value")
		sameAsMarshal(t, v, func(b []byte) ([]byte, error) { return fieldtext.AppendJSON(b, v) })
	})
}

// TestAppendObjectIsMarshal: a record's fields, nil or not, are written as
// json.Marshal writes them, keys in order.
func TestAppendObjectIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := fieldtexttest.Object(0).Draw(t, "fields")
		sameAsMarshal(t, m, func(b []byte) ([]byte, error) { return fieldtext.AppendObject(b, m) })
	})
}

// TestAppendStringIsMarshal draws strings with everything encoding/json
// escapes.
func TestAppendStringIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := fieldtexttest.String().Draw(t, "s")
		sameAsMarshal(t, s, func(b []byte) ([]byte, error) { return fieldtext.AppendString(b, s), nil })
	})
}

// TestAppendStringsIsMarshal: lists of strings, nil and empty ones too.
func TestAppendStringsIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		list := fieldtexttest.Strings().Draw(t, "list")
		sameAsMarshal(t, list, func(b []byte) ([]byte, error) { return fieldtext.AppendStrings(b, list), nil })
	})
}

// TestAppendFloatIsMarshal draws float64s of every magnitude and the
// boundaries of encoding/json's exponent form.
func TestAppendFloatIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := fieldtexttest.Float().Draw(t, "f")
		sameAsMarshal(t, f, func(b []byte) ([]byte, error) { return fieldtext.AppendFloat(b, f), nil })
	})
}

// TestAppendTimeIsMarshal: times in zones, with and without fractions,
// and ones json.Marshal refuses.
func TestAppendTimeIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := fieldtexttest.Time().Draw(t, "at")
		sameAsMarshal(t, at, func(b []byte) ([]byte, error) { return fieldtext.AppendTime(b, at) })
	})
}

// TestAppendMapIsMarshal: maps of other values, as the store's field
// versions, with keys in order and nil written null.
func TestAppendMapIsMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m map[string]int64
		if rapid.IntRange(0, 9).Draw(t, "nil") > 0 {
			m = rapid.MapOfN(fieldtexttest.String(), rapid.Int64(), 0, 8).Draw(t, "versions")
		}
		sameAsMarshal(t, m, func(b []byte) ([]byte, error) {
			return fieldtext.AppendMap(b, m, func(b []byte, v int64) ([]byte, error) { return strconv.AppendInt(b, v, 10), nil })
		})
	})
}

// TestAppendJSONDeepAndSelfContaining: values nested deeper than the
// appender follows are written whole, and one that contains itself fails
// as json.Marshal fails rather than recurse for ever.
func TestAppendJSONDeepAndSelfContaining(t *testing.T) {
	var deep any = "bottom"
	for i := range 300 {
		if i%2 == 0 {
			deep = []any{deep, i}
		} else {
			deep = map[string]any{"k": deep}
		}
	}
	self := map[string]any{"a": 1.0}
	self["self"] = self
	for name, v := range map[string]any{"deep": deep, "self": self} {
		want, wantErr := json.Marshal(v)
		got, err := fieldtext.AppendJSON(nil, v)
		if string(got) != string(want) || (err == nil) != (wantErr == nil) {
			t.Errorf("%s: AppendJSON wrote %d bytes (%v), json.Marshal %d (%v)", name, len(got), err, len(want), wantErr)
		}
	}
}

// TestCanonicalNumbers: a number is canonical exactly when it is what
// encoding/json writes for the float64 it reads as.
func TestCanonicalNumbers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := fieldtexttest.Float().Draw(t, "f")
		text := strconv.FormatFloat(f, rapid.SampledFrom([]byte("eEfg")).Draw(t, "format"), -1, 64)
		if rapid.Bool().Draw(t, "json") {
			b, _ := json.Marshal(f)
			text = string(b)
		}
		b, _ := json.Marshal(f)
		want := text == string(b)
		if got := fieldtext.Canonical(`{"n":` + text + `}`); got != want {
			t.Fatalf("Canonical says %v of %s; json.Marshal writes %s", got, text, b)
		}
	})
}

func BenchmarkFields(b *testing.B) {
	fields := map[string]any{"matter_id": "0190c3b2-7d4e-7a2b-8c1d-2e3f4a5b6c7d", "title": "Note 12345",
		"body": "Met the witness at the site; photos filed under evidence.", "tags": []string{"site", "witness"},
		"hours": 1.5, "billable": true, "due": nil}
	b.Run("AppendObject", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = fieldtext.AppendObject(buf[:0], fields); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendObjectNew", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fieldtext.AppendObject(nil, fields); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(fields); err != nil {
				b.Fatal(err)
			}
		}
	})
	long := strings.Repeat("Met the witness at the site; <photos> filed under évidence. ", 20)
	b.Run("AppendString", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = fieldtext.AppendString(buf[:0], long)
		}
	})
	b.Run("json.Marshal/string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(long); err != nil {
				b.Fatal(err)
			}
		}
	})
}
