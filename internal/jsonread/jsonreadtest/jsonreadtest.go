// Package jsonreadtest holds what the tests of decoders built on jsonread
// share: encoding/json as the oracle, generators of values, a writer of
// JSON as other writers could write it, damage, and a benchmark of a
// decoder against encoding/json.
package jsonreadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// Decode is what encoding/json makes of data as one value and nothing
// after it, into a zero T.
func Decode[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	if dec.More() {
		return v, errors.New("trailing data")
	}
	if _, err := dec.Token(); err == nil {
		return v, errors.New("trailing data")
	}
	return v, nil
}

// Agree checks a decoder against encoding/json (Decode) on data: when
// fast takes it, json takes it too and makes the same of it. It reports
// whether fast took it.
func Agree[T any](t *rapid.T, data []byte, fast func([]byte) (T, bool)) bool {
	got, ok := fast(data)
	if !ok {
		return false
	}
	want, err := Decode[T](data)
	if err != nil {
		t.Fatalf("the decoder took what encoding/json refuses (%v):\n%q", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the decoder and encoding/json differ on\n%q\ndecoder: %#v\njson:    %#v", data, got, want)
	}
	return true
}

// String draws strings: plain ones, any, and ones made of the characters
// a JSON writer escapes or must repair (bytes that are not UTF-8).
func String() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[a-z0-9 -]{0,12}`),
		rapid.String(),
		rapid.Custom(func(t *rapid.T) string {
			parts := rapid.SliceOfN(rapid.SampledFrom([]string{
				"a", "é", "\xff", "\xe2\x80", "\n", "\t", "\"", "\\", "<", ">", "&", "\u2028", "\u2029", "\x00", "\x1f", "\x7f", "😀", "\ufffd",
			}), 0, 8).Draw(t, "parts")
			return strings.Join(parts, "")
		}),
	)
}

// Value draws what encoding/json decodes into an any, nested below depth
// 3 at most, its maps' keys drawn by keys.
func Value(depth int, keys *rapid.Generator[string]) *rapid.Generator[any] {
	leaves := []*rapid.Generator[any]{
		rapid.Map(String(), func(s string) any { return s }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Int64(), func(i int64) any { return float64(i) }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Just[any](nil),
	}
	if depth >= 3 {
		return rapid.OneOf(leaves...)
	}
	return rapid.OneOf(append(leaves,
		rapid.Map(rapid.SliceOfN(Value(depth+1, keys), 0, 3), func(a []any) any { return a }),
		rapid.Map(rapid.MapOfN(keys, Value(depth+1, keys), 0, 3), func(m map[string]any) any { return m }),
	)...)
}

// FoldedKey draws keys that are often equal to one another but for case,
// some of them beyond ASCII (the Kelvin sign folds to k, the long s to s).
func FoldedKey() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "é", "É", "title", "Title", "TITLE"}),
		rapid.StringMatching(`[a-c]{1,2}`),
		String(),
	)
}

// PlainKeys reports whether every object in v, a value as encoding/json
// decodes one into an any, has only ASCII keys, no two of them equal but
// for case.
func PlainKeys(v any) bool {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			if !PlainKeys(x) {
				return false
			}
		}
	case map[string]any:
		var seen []string
		for k, x := range v {
			for _, c := range []byte(k) {
				if c >= utf8.RuneSelf {
					return false
				}
			}
			for _, s := range seen {
				if strings.EqualFold(s, k) {
					return false
				}
			}
			seen = append(seen, k)
			if !PlainKeys(x) {
				return false
			}
		}
	}
	return true
}

// Time draws a time of the years 1 to 9999 in one of three zones.
func Time() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		sec := rapid.Int64Range(-62135596800, 253402300799-86400).Draw(t, "sec")
		nsec := rapid.SampledFrom([]int64{0, 1, 500000000, rapid.Int64Range(0, 999999999).Draw(t, "ns")}).Draw(t, "nsec")
		zone := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}).Draw(t, "zone")
		return time.Unix(sec, nsec).In(zone)
	})
}

// Writer writes JSON as another writer could: keys in any order, space
// anywhere, any character escaped, numbers in other forms.
type Writer struct {
	T *rapid.T
	B bytes.Buffer
	// Odd: it also writes what a decoder leaves to encoding/json: a key
	// it does not know, one in another case or given twice, an integer
	// with a fraction.
	Odd bool
	// Twins, when more than 0: one object in Twins has a key given twice,
	// as it is or in another case; Twinned says one had.
	Twins   int
	Twinned bool
}

// Space writes space or nothing.
func (w *Writer) Space() {
	w.B.WriteString(rapid.SampledFrom([]string{"", "", "", " ", "\n\t", "\r\n  "}).Draw(w.T, "space"))
}

// Str writes s as a JSON string.
func (w *Writer) Str(s string) {
	w.B.WriteByte('"')
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			w.B.WriteString(rapid.SampledFrom([]string{`\ufffd`, "\ufffd", "\xff", `\ud800`, `\udc00x`}).Draw(w.T, "bad"))
		case r == '"' || r == '\\' || r < 0x20 || rapid.IntRange(0, 15).Draw(w.T, "escape") == 0:
			switch {
			case r == '\n' && rapid.Bool().Draw(w.T, "short"):
				w.B.WriteString(`\n`)
			case r == '/' || r == '"' || r == '\\':
				w.B.WriteString(`\` + string(r))
			case r > 0xffff:
				r1, r2 := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
				fmt.Fprintf(&w.B, `\u%04x\u%04X`, r1, r2)
			default:
				fmt.Fprintf(&w.B, `\u%04x`, r)
			}
		default:
			w.B.WriteRune(r)
		}
	}
	w.B.WriteByte('"')
}

// Num writes f in a drawn form.
func (w *Writer) Num(f float64) {
	switch rapid.IntRange(0, 3).Draw(w.T, "form") {
	case 0:
		w.B.WriteString(strconv.FormatFloat(f, 'e', -1, 64))
	case 1:
		w.B.WriteString(strings.Replace(strconv.FormatFloat(f, 'E', -1, 64), "E+", "E", 1))
	default:
		w.B.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
}

// Int writes i, now and then (Odd) with a fraction json refuses for an
// int64.
func (w *Writer) Int(i int64) {
	if w.Odd && rapid.IntRange(0, 20).Draw(w.T, "intForm") == 0 {
		w.B.WriteString(strconv.FormatInt(i, 10) + ".0")
		return
	}
	w.B.WriteString(strconv.FormatInt(i, 10))
}

// Bool writes b.
func (w *Writer) Bool(b bool) { w.B.WriteString(strconv.FormatBool(b)) }

// Null writes null.
func (w *Writer) Null() { w.B.WriteString("null") }

// Object writes members in a drawn order, each by its func; Odd, now and
// then a key more, a key twice or a key in upper case.
func (w *Writer) Object(members map[string]func()) {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keys = rapid.Permutation(keys).Draw(w.T, "order")
	switch extra := rapid.IntRange(0, 30).Draw(w.T, "extra"); {
	case !w.Odd:
	case extra == 0:
		keys = append(keys, "Unknown")
		members["Unknown"] = func() { w.B.WriteString(`{"x":[1,"y"]}`) }
	case extra == 1:
		if len(keys) > 0 {
			keys = append(keys, keys[0])
		}
	}
	if w.Twins > 0 && len(keys) > 0 && rapid.IntRange(0, w.Twins-1).Draw(w.T, "twins") == 0 {
		k := rapid.SampledFrom(keys).Draw(w.T, "twinOf")
		twin := rapid.SampledFrom([]string{k, strings.ToUpper(k), strings.ToLower(k)}).Draw(w.T, "twin")
		if members[twin] == nil {
			members[twin] = members[k]
		}
		keys = slices.Insert(keys, rapid.IntRange(0, len(keys)).Draw(w.T, "twinAt"), twin)
		w.Twinned = true
	}
	w.Space()
	w.B.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.Space()
			w.B.WriteByte(',')
		}
		w.Space()
		if w.Odd && rapid.IntRange(0, 40).Draw(w.T, "upper") == 0 {
			w.Str(strings.ToUpper(k))
		} else {
			w.Str(k)
		}
		w.Space()
		w.B.WriteByte(':')
		w.Space()
		members[k]()
		w.Space()
	}
	w.B.WriteByte('}')
}

// Array writes n elements, each by elem.
func (w *Writer) Array(n int, elem func(i int)) {
	w.B.WriteByte('[')
	for i := range n {
		if i > 0 {
			w.Space()
			w.B.WriteByte(',')
		}
		w.Space()
		elem(i)
	}
	w.Space()
	w.B.WriteByte(']')
}

// Value writes v, a value as encoding/json decodes one into an any.
func (w *Writer) Value(v any) {
	switch v := v.(type) {
	case nil:
		w.Null()
	case bool:
		w.Bool(v)
	case float64:
		w.Num(v)
	case string:
		w.Str(v)
	case []any:
		w.Array(len(v), func(i int) { w.Value(v[i]) })
	case map[string]any:
		m := map[string]func(){}
		for k, x := range v {
			m[k] = func() { w.Value(x) }
		}
		w.Object(m)
	default:
		w.T.Fatalf("value of type %T", v)
	}
}

// Time writes t as time.Time's MarshalJSON does.
func (w *Writer) Time(t time.Time) {
	b, err := t.MarshalJSON()
	if err != nil {
		w.T.Fatal(err)
	}
	w.B.Write(b)
}

// AndDamaged runs check on data and then on up to three copies of it,
// each damaged once more than the one before (Damage), and reports what
// check said of data itself.
func AndDamaged(t *rapid.T, data []byte, check func([]byte) bool) bool {
	ok := check(data)
	for range rapid.IntRange(0, 3).Draw(t, "damages") {
		data = Damage(t, data)
		check(data)
	}
	return ok
}

// Damage changes data at a drawn place: a byte dropped, doubled,
// replaced or inserted.
func Damage(t *rapid.T, data []byte) []byte {
	if len(data) == 0 {
		return []byte("{")
	}
	i := rapid.IntRange(0, len(data)-1).Draw(t, "at")
	c := rapid.SampledFrom([]byte(`{}[]":,\ 0-.eE+tfnu"`+"\x00\xff\x1f")).Draw(t, "byte")
	out := append([]byte(nil), data[:i]...)
	switch rapid.IntRange(0, 3).Draw(t, "how") {
	case 0:
		out = append(out, data[i+1:]...)
	case 1:
		out = append(append(out, data[i]), data[i:]...)
	case 2:
		out = append(append(out, c), data[i+1:]...)
	default:
		out = append(append(out, c), data[i:]...)
	}
	return out
}

// Bench runs two sub-benchmarks on data: "json", encoding/json as Decode
// decodes, and "fast", the decoder.
func Bench[T any](b *testing.B, data []byte, fast func([]byte) (T, bool)) {
	BenchAgainst(b, data, func(data []byte) error {
		_, err := Decode[T](data)
		return err
	}, fast)
}

// BenchAgainst is Bench with the slow path given.
func BenchAgainst[T any](b *testing.B, data []byte, slow func([]byte) error, fast func([]byte) (T, bool)) {
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := slow(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := fast(data); !ok {
				b.Fatal("declined")
			}
		}
	})
}
