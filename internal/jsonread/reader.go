// Package jsonread decodes JSON without reflection, exactly as
// encoding/json would decode it, for the few wire types decoded often
// enough for reflection to show in a profile (a pull page and a push's
// answer on the client, a push on the server). A Reader knows the JSON
// those writers write — any order of the keys, any spacing, escapes — and
// answers false for whatever else encoding/json would have to judge: a key
// it was not told of or one spelt in another case, a key given twice, a
// kind other than the one it expects, a number json would refuse, malformed
// JSON. The caller then decodes with encoding/json, which accepts or
// refuses the whole language, so the result and any error are the same
// either way.
package jsonread

import (
	"fmt"
	"reflect"
)

// Reader reads b from i. Every method answers false, leaving i anywhere,
// when what it reads is not what it knows.
type Reader struct {
	b []byte
	i int
	// unique: an object with a key twice is declined, maps' too.
	unique bool
	names  map[string]string // see name
}

// NewReader reads data as encoding/json does: a map keeps the last value
// of a key given twice.
func NewReader(data []byte) *Reader { return &Reader{b: data} }

// NewUniqueReader reads data as NewReader does but takes no object in
// which two keys are equal as encoding/json matches a key with a struct
// field (case folded, escapes decoded), whether it decodes into a struct
// or a map: a server refuses such a body, which could say two things and
// mean one. To keep that cheap, a map with a key that is not ASCII is
// declined too.
func NewUniqueReader(data []byte) *Reader { return &Reader{b: data, unique: true} }

// Into decodes data into *out with decode, when *out is zero (json decodes
// into a value that is not by merging) and decode takes data.
func Into[T any](out *T, data []byte, decode func([]byte) (T, bool)) bool {
	if !reflect.ValueOf(out).Elem().IsZero() {
		return false
	}
	v, ok := decode(data)
	if ok {
		*out = v
	}
	return ok
}

// End reports whether what was read was ok and nothing but space follows.
func (d *Reader) End(ok bool) bool {
	d.space()
	return ok && d.i == len(d.b)
}

// maxDepth bounds the nesting of a value read into an any; deeper ones
// are left to encoding/json.
const maxDepth = 64

func (d *Reader) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips space and reports the byte there without taking it; 0 at the end.
func (d *Reader) next() byte {
	d.space()
	if d.i == len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// take skips space and takes c.
func (d *Reader) take(c byte) bool {
	if d.next() != c {
		return false
	}
	d.i++
	return true
}

// object reads an object, calling member with each key; member reads the
// value.
func (d *Reader) object(member func(key []byte) bool) bool {
	if !d.take('{') {
		return false
	}
	if d.take('}') {
		return true
	}
	for {
		key, ok := d.StrBytes() // a key is read as a string is
		if !ok || !d.take(':') || !member(key) {
			return false
		}
		if d.take('}') {
			return true
		}
		if !d.take(',') {
			return false
		}
	}
}

// array reads an array, calling elem for each element.
func (d *Reader) array(elem func() bool) bool {
	if !d.take('[') {
		return false
	}
	if d.take(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.take(']') {
			return true
		}
		if !d.take(',') {
			return false
		}
	}
}

// Keys are the JSON names of a struct's fields, each a bit.
type Keys map[string]uint32

// KeysOf numbers names, at most 32, as Keys.
func KeysOf(names ...string) Keys {
	if len(names) > 32 {
		panic(fmt.Sprintf("jsonread: %d keys, at most 32", len(names)))
	}
	k := make(Keys, len(names))
	for i, n := range names {
		k[n] = 1 << i
	}
	return k
}

// known reads a key of a struct: false for a key not in names or one
// given before; null is taken here, and leaves the value zero, as
// encoding/json leaves it; then more is false.
func (d *Reader) known(names Keys, keys *uint32, key []byte) (ok, more bool) {
	bit := names[string(key)]
	if bit == 0 || *keys&bit != 0 {
		return false, false
	}
	*keys |= bit
	if d.next() == 'n' {
		return d.word("null"), false
	}
	return true, true
}

// Members reads a struct's object, whose keys are names exactly as
// written, each given at most once, calling member with each key whose
// value is not null; member reads the value.
func (d *Reader) Members(names Keys, member func(key []byte) bool) bool {
	var keys uint32
	return d.object(func(key []byte) bool {
		if ok, more := d.known(names, &keys, key); !more {
			return ok
		}
		return member(key)
	})
}

// Elems reads an array into *v (empty, not nil, for []), each element by
// read into a zero value, as encoding/json fills a nil slice.
func Elems[T any](d *Reader, v *[]T, read func(*T) bool) bool {
	if d.next() != '[' {
		return false
	}
	*v = []T{}
	return d.array(func() bool {
		var zero T
		*v = append(*v, zero)
		return read(&(*v)[len(*v)-1])
	})
}
