package jsonread

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// Map reads an object into a new *m as encoding/json decodes one into a
// map of any: each value a string, float64, bool, nil, []any or
// map[string]any; {} an empty map, not nil.
func Map[M ~map[string]any](d *Reader, m *M) bool {
	if d.next() != '{' {
		return false
	}
	*m = M{}
	return d.mapInto(map[string]any(*m), 1)
}

// mapInto reads an object's members into m, their values at depth.
func (d *Reader) mapInto(m map[string]any, depth int) bool {
	var recased map[string]struct{}
	return d.object(func(key []byte) bool {
		if d.unique && !fresh(m, key, &recased) {
			return false
		}
		v, ok := d.value(depth)
		m[d.name(key)] = v
		return ok
	})
}

// maxNames bounds the map keys a Reader keeps to hand out again.
const maxNames = 256

// name returns a map's key as a string, the same string each time for
// the same key: a batch's fields repeat a few names hundreds of times.
func (d *Reader) name(key []byte) string {
	if s, ok := d.names[string(key)]; ok {
		return s
	}
	s := string(key)
	if len(d.names) < maxNames {
		if d.names == nil {
			d.names = map[string]string{}
		}
		d.names[s] = s
	}
	return s
}

// fresh reports whether key, about to go into m, differs case folded from
// every key before it, as a unique reader needs. A key written in lower
// case is found in m itself; *recased holds the lower-cased form of every
// other. Keys are compared folded in ASCII only: a key that is not ASCII
// (which could fold to one that is: U+212A, the Kelvin sign, folds to
// k) is not taken.
func fresh(m map[string]any, key []byte, recased *map[string]struct{}) bool {
	upper := false
	for _, c := range key {
		switch {
		case c >= utf8.RuneSelf:
			return false
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if !upper {
		_, twice := m[string(key)]
		_, folded := (*recased)[string(key)]
		return !twice && !folded
	}
	lower := string(bytes.ToLower(key))
	_, twice := m[lower]
	_, folded := (*recased)[lower]
	if twice || folded {
		return false
	}
	if *recased == nil {
		*recased = map[string]struct{}{}
	}
	(*recased)[lower] = struct{}{}
	return true
}

// value reads a value as encoding/json reads one into an any: string,
// float64, bool, nil, []any or map[string]any.
func (d *Reader) value(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch c := d.next(); {
	case c == '"':
		var s string
		ok := d.Str(&s)
		return s, ok
	case c == '{':
		m := map[string]any{}
		return m, d.mapInto(m, depth+1)
	case c == '[':
		a := []any{}
		ok := d.array(func() bool {
			v, ok := d.value(depth + 1)
			a = append(a, v)
			return ok
		})
		return a, ok
	case c == 't' || c == 'f':
		var b bool
		ok := d.Bool(&b)
		return b, ok
	case c == 'n':
		return nil, d.word("null")
	case c == '-' || c >= '0' && c <= '9':
		n, ok := d.number()
		if !ok {
			return nil, false
		}
		// Out of float64's range json refuses the number; so does this.
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return nil, false
}

func (d *Reader) word(w string) bool {
	if len(d.b)-d.i < len(w) || string(d.b[d.i:d.i+len(w)]) != w {
		return false
	}
	d.i += len(w)
	return true
}

// Bool reads true or false.
func (d *Reader) Bool(b *bool) bool {
	switch d.next() {
	case 't':
		*b = true
		return d.word("true")
	case 'f':
		*b = false
		return d.word("false")
	}
	return false
}

// number reads a number as JSON writes one and returns its text.
func (d *Reader) number() ([]byte, bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	return d.b[start:d.i], true
}

func (d *Reader) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// Int reads an integer; a fraction or an exponent, which encoding/json
// refuses for an int64, is left to it.
func (d *Reader) Int(v *int64) bool {
	if c := d.next(); c != '-' && (c < '0' || c > '9') {
		return false
	}
	n, ok := d.number()
	if !ok {
		return false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return false
	}
	*v = i
	return true
}

// Time reads a time as time.Time's UnmarshalJSON does, from the string's
// own bytes, quotes included.
func (d *Reader) Time(t *time.Time) bool {
	if d.next() != '"' {
		return false
	}
	start := d.i
	var s string
	if !d.Str(&s) {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// StrAs reads a string into a string type of its own.
func StrAs[T ~string](d *Reader, v *T) bool {
	var s string
	ok := d.Str(&s)
	*v = T(s)
	return ok
}

// Strings reads an array of strings.
func (d *Reader) Strings(v *[]string) bool { return Elems(d, v, d.Str) }

// The readers below let a caller walk a value of any shape without
// building it, for writing it in another form (internal/pullpack): each
// reads what encoding/json would decode, and answers false where Map's
// reading would.

// Peek answers the first byte of the next value, after any space: '"',
// '{', '[', 't', 'f', 'n', or a number's first byte.
func (d *Reader) Peek() byte { return d.next() }

// Object reads an object, calling member with each key as encoding/json
// decodes it (the input's own bytes, unless it had an escape); member
// reads the value. A key given twice comes twice, in order: kept in a map,
// the last wins, as encoding/json decides. A unique Reader's check is not
// made.
func (d *Reader) Object(member func(key []byte) bool) bool { return d.object(member) }

// Array reads an array, calling elem for each element.
func (d *Reader) Array(elem func() bool) bool { return d.array(elem) }

// StrBytes reads a string as Str does, into bytes: the input's own when
// the string was written as it is (as writers write nearly every key), or
// rewritten as encoding/json rewrites one with an escape or a byte that is
// not UTF-8.
func (d *Reader) StrBytes() ([]byte, bool) {
	var s string
	raw, ok := d.quoted(&s)
	if ok && raw == nil {
		return []byte(s), true
	}
	return raw, ok
}

// Null reads null.
func (d *Reader) Null() bool { return d.next() == 'n' && d.word("null") }

// Float reads a number as encoding/json decodes one into an any.
func (d *Reader) Float(f *float64) bool {
	d.space()
	n, ok := d.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(string(n), 64)
	*f = v
	return err == nil
}
