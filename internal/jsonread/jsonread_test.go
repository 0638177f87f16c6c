package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"casefile/internal/jsonread/jsonreadtest"
)

// anyOf reads data as one value into an any, by a Reader of its own.
func anyOf(d *Reader) (any, bool) {
	v, ok := d.value(1)
	if !d.End(ok) {
		return nil, false
	}
	return v, true
}

func readAny(data []byte) (any, bool)    { return anyOf(NewReader(data)) }
func readUnique(data []byte) (any, bool) { return anyOf(NewUniqueReader(data)) }

// TestValueIsJSONs: whatever a Reader takes, it decodes as encoding/json
// decodes into an any; it takes whatever json.Marshal writes (not nested
// too deep); and values written otherwise and damaged either agree or
// are declined.
func TestValueIsJSONs(t *testing.T) {
	took, all := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		v := jsonreadtest.Value(0, jsonreadtest.String()).Draw(t, "value")
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonreadtest.Agree(t, data, readAny) {
			t.Fatalf("the reader declined what json.Marshal wrote:\n%q", data)
		}
		w := &jsonreadtest.Writer{T: t, Odd: rapid.IntRange(0, 3).Draw(t, "odd") == 0}
		w.Value(v)
		data = w.B.Bytes()
		all++
		if jsonreadtest.AndDamaged(t, data, func(d []byte) bool { return jsonreadtest.Agree(t, d, readAny) }) {
			took++
		}
	})
	if took*2 < all {
		t.Fatalf("the reader took %d of %d values written otherwise", took, all)
	}
}

// TestUniqueReaderTakesNoKeyTwice: whatever a unique reader takes, it
// decodes as encoding/json does and no object in it holds two keys equal
// but for case (strings.EqualFold, as encoding/json matches a key with a
// struct field); it takes every value json.Marshal writes whose keys are
// ASCII and distinct in every object.
func TestUniqueReaderTakesNoKeyTwice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := jsonreadtest.Value(0, jsonreadtest.FoldedKey()).Draw(t, "value")
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		took := jsonreadtest.Agree(t, data, readUnique)
		if took && keyTwice(t, data) {
			t.Fatalf("the unique reader took a key twice:\n%q", data)
		}
		if !took && jsonreadtest.PlainKeys(v) {
			t.Fatalf("the unique reader declined what json.Marshal wrote:\n%q", data)
		}
		w := &jsonreadtest.Writer{T: t, Odd: rapid.Bool().Draw(t, "odd"), Twins: 3}
		w.Value(v)
		data = w.B.Bytes()
		jsonreadtest.AndDamaged(t, data, func(d []byte) bool {
			if jsonreadtest.Agree(t, d, readUnique) && keyTwice(t, d) {
				t.Fatalf("the unique reader took a key twice:\n%q", d)
			}
			return true
		})
	})
}

// keyTwice reports whether an object in data (valid JSON) holds two keys
// equal but for case, walking encoding/json's tokens.
func keyTwice(t *rapid.T, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("token of taken JSON: %v", err)
		}
		twice := false
		switch tok {
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatalf("key of taken JSON: %v", err)
				}
				for _, s := range keys {
					twice = twice || strings.EqualFold(s, k.(string))
				}
				keys = append(keys, k.(string))
				twice = walk() || twice
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				twice = walk() || twice
			}
			_, _ = dec.Token()
		}
		return twice
	}
	twice := walk()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("taken JSON goes on: %v", err)
	}
	return twice
}

func TestReaderDeclines(t *testing.T) {
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, ok := readAny([]byte(deep)); !ok {
		t.Errorf("the reader declined a value nested %d deep", maxDepth)
	}
	for _, data := range []string{
		``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1 2]`, `1 2`, `{} x`, `{}{}`,
		`1e999`, `-1e400`, `01`, `-`, `.5`, `1.`, `1e`, `1e+`, `+1`, `tru`, `nul`, `True`, `NaN`, `Infinity`, `0x10`,
		`"a` + "\x01" + `"`, `"abcdefghijk` + "\x1f" + `lmnopqrs"`, `{"abcdefghijk` + "\x00" + `":1}`, `"\u12"`, `"\x"`, `"\ud800\u12"`, `"abc`, `"\`, `{"\u00":1}`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		if v, ok := readAny([]byte(data)); ok {
			t.Errorf("the reader took %q: %#v", data, v)
		}
	}
	for _, data := range []string{
		`{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"Title":1,"TITLE":2}`, `{"title":1,"Title":2}`, `{"Title":1,"title":2}`,
		`{"k":1,"\u212a":2}`, `{"é":1}`, `{"a":{"b":1,"B":2}}`, `[{"x":1},{"y":[{"x":1,"\u0058":2}]}]`,
	} {
		if v, ok := readUnique([]byte(data)); ok {
			t.Errorf("the unique reader took %q: %#v", data, v)
		}
	}
	// A reader that lets keys repeat keeps the last, as json does.
	if v, ok := readAny([]byte(`{"a":1,"A":2,"a":3}`)); !ok || v.(map[string]any)["a"] != 3.0 || len(v.(map[string]any)) != 2 {
		t.Errorf(`the reader made %#v of {"a":1,"A":2,"a":3}`, v)
	}
}

// TestValueEdges pins the values whose decoding json has rules for.
func TestValueEdges(t *testing.T) {
	for data, want := range map[string]any{
		`"\ud83d\ude00"`:                 "😀",
		`"\ud800x"`:                      "\ufffdx",
		`"\udc00\ud800"`:                 "\ufffd\ufffd",
		`"\ud800\ud800\udc00"`:           "\ufffd\U00010000",
		`"a\/b\"\\\b\f\n\r\t"`:           "a/b\"\\\b\f\n\r\t",
		"\"\xff\xfe\"":                   "\ufffd\ufffd",
		`9007199254740993`:               9007199254740992.0,
		`123456789012345678901234567890`: 1.2345678901234568e29,
		`-0`:                             math.Copysign(0, -1),
		`1E2`:                            100.0,
		`1e-2`:                           0.01,
		`{}`:                             map[string]any{},
		`[]`:                             []any{},
	} {
		got, ok := readAny([]byte(data))
		if !ok {
			t.Errorf("the reader declined %s", data)
			continue
		}
		if !jsonEqual(got, want) {
			t.Errorf("the reader made %#v of %s, want %#v", got, data, want)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// TestMembers: a struct's object is taken with its keys exactly as named,
// each once; null leaves a value as it was.
func TestMembers(t *testing.T) {
	keys := KeysOf("a", "b")
	read := func(data string) (a, b int64, ok bool) {
		d := NewReader([]byte(data))
		ok = d.End(d.Members(keys, func(key []byte) bool {
			if string(key) == "a" {
				return d.Int(&a)
			}
			return d.Int(&b)
		}))
		return a, b, ok
	}
	if a, b, ok := read(` { "b" : 2 , "a":null } `); !ok || a != 0 || b != 2 {
		t.Errorf("read %d, %d, %v", a, b, ok)
	}
	for _, data := range []string{`{"A":1}`, `{"a":1,"a":2}`, `{"a":1,"c":2}`, `{"a":1.5}`, `{"a":"1"}`, `null`, `[]`} {
		if _, _, ok := read(data); ok {
			t.Errorf("Members took %s", data)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("KeysOf took 33 names")
		}
	}()
	KeysOf(strings.Split(strings.Repeat("k,", 33), ",")...)
}

// TestMap: Map makes a map of its own type, empty (not nil) for {}.
func TestMap(t *testing.T) {
	type fields map[string]any
	for data, want := range map[string]int{`{}`: 0, `{"a":[1,{"b":null}],"c":"d"}`: 2} {
		var m fields
		d := NewReader([]byte(data))
		if !d.End(Map(d, &m)) || m == nil || len(m) != want {
			t.Errorf("Map made %#v of %s", m, data)
		}
	}
	var m fields
	if d := NewReader([]byte(`null`)); Map(d, &m) {
		t.Error("Map took null")
	}
}

// TestInto: Into decodes only into a zero value, which json would not
// merge with.
func TestInto(t *testing.T) {
	times := 0
	decode := func(data []byte) ([]string, bool) {
		times++
		var v []string
		d := NewReader(data)
		return v, d.End(d.Strings(&v))
	}
	var v []string
	if !Into(&v, []byte(`["a","b"]`), decode) || len(v) != 2 || v[1] != "b" {
		t.Fatalf("Into made %q", v)
	}
	if Into(&v, []byte(`["c"]`), decode) || times != 1 || len(v) != 2 {
		t.Fatalf("Into decoded into a value that was not zero: %q", v)
	}
	var w []string
	if Into(&w, []byte(`["c",1]`), decode) || w != nil {
		t.Fatalf("Into kept what the decoder declined: %q", w)
	}
}

// TestPlainEnd: plainEnd stops where a byte-by-byte scan stops.
func TestPlainEnd(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.OneOf(rapid.SampledFrom([]byte{0x00, 0x1f, 0x20, 0x21, '"', '\\', 0x5b, 0x5d, 0x7e, 0x7f, 0x80, 0xc3, 0xff}),
			rapid.Byte()), 0, 40).Draw(t, "bytes")
		// Mostly plain, so that the eight-byte steps are taken.
		for i := range b {
			if rapid.IntRange(0, 3).Draw(t, "keep") > 0 {
				b[i] = 'a' + byte(i%26)
			}
		}
		from := rapid.IntRange(0, len(b)).Draw(t, "from")
		want := from
		for want < len(b) && b[want] >= 0x20 && b[want] < 0x80 && b[want] != '"' && b[want] != '\\' {
			want++
		}
		if got := plainEnd(b, from); got != want {
			t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, from, got, want)
		}
	})
}
