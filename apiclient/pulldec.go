package apiclient

import (
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"casefile/model"
	"casefile/protocol"
)

// decodePull decodes a pull page as encoding/json decodes it into a zero
// PullResponse, without reflection: decoding took a sixth of a first
// sync's client CPU (docs/benchmarks.md, fifteenth round). It knows the
// language servers write — any order of the keys, any spacing — and
// answers false for whatever else encoding/json would have to judge: a
// key it does not know or spelt in another case, a key given twice, null
// or a number where it expects another kind, a number json would refuse
// for an integer, malformed JSON. The caller then decodes with
// encoding/json, which accepts or refuses the whole language, so the
// answer is the same either way (TestDecodePullIsJSONs draws both).
func decodePull(data []byte) (protocol.PullResponse, bool) {
	d := &pullDecoder{b: data}
	var p protocol.PullResponse
	if !d.end(d.page(&p)) {
		return protocol.PullResponse{}, false
	}
	return p, true
}

// fastInto decodes data into *out with fast, when *out is zero (json
// decodes into a value that is not by merging) and fast takes data.
func fastInto[T any](out *T, data []byte, fast func([]byte) (T, bool)) bool {
	if !reflect.ValueOf(out).Elem().IsZero() {
		return false
	}
	v, ok := fast(data)
	if ok {
		*out = v
	}
	return ok
}

// end reports whether what was read was ok and nothing but space follows.
func (d *pullDecoder) end(ok bool) bool {
	d.space()
	return ok && d.i == len(d.b)
}

// pullDecoder reads b from i. Every method answers false, leaving i
// anywhere, when what it reads is not what it knows.
type pullDecoder struct {
	b []byte
	i int
}

// maxDepth bounds the nesting of a field's value; deeper ones are left to
// encoding/json.
const maxDepth = 64

func (d *pullDecoder) space() {
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
func (d *pullDecoder) next() byte {
	d.space()
	if d.i == len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// take skips space and takes c.
func (d *pullDecoder) take(c byte) bool {
	if d.next() != c {
		return false
	}
	d.i++
	return true
}

// object reads an object, calling member with each key; member reads the
// value.
func (d *pullDecoder) object(member func(key []byte) bool) bool {
	if !d.take('{') {
		return false
	}
	if d.take('}') {
		return true
	}
	for {
		key, ok := d.rawKey()
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
func (d *pullDecoder) array(elem func() bool) bool {
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

// rawKey reads a key. Its bytes are the input's own when it is written
// as it is (every key of a page servers write); one with an escape or a
// byte that is not UTF-8 is rewritten as encoding/json rewrites it.
func (d *pullDecoder) rawKey() ([]byte, bool) {
	if !d.take('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			key := d.b[start : d.i-1]
			if !ascii && !utf8.Valid(key) {
				return unquote(key), true
			}
			return key, true
		case c == '\\':
			var s string
			ok := d.escaped(start, &s)
			return []byte(s), ok
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// pageKeys, removalKeys and recordKeys are the keys of a page, a removal
// and a record, each a bit.
var (
	pageKeys = map[string]uint32{"records": 1, "removed": 2, "dropped_matters": 4, "cursor": 8, "more": 16,
		"head": 32, "compacted_through": 64, "total": 128}
	removalKeys = map[string]uint32{"id": 1, "matter_id": 2}
	recordKeys  = map[string]uint32{"id": 1, "collection": 2, "matter_id": 4, "version": 8, "seq": 16, "deleted": 32,
		"fields": 64, "created_by": 128, "created_at": 256, "updated_by": 512, "updated_at": 1024}
)

// known reads a key of a struct: false for a key not in names or one
// given before; null is taken here, and leaves the value zero, as
// encoding/json leaves it; then more is false.
func (d *pullDecoder) known(names map[string]uint32, keys *uint32, key []byte) (ok, more bool) {
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

// members reads an object whose keys are names, each given at most once,
// calling member with each key whose value is not null (known).
func (d *pullDecoder) members(names map[string]uint32, member func(key []byte) bool) bool {
	var keys uint32
	return d.object(func(key []byte) bool {
		if ok, more := d.known(names, &keys, key); !more {
			return ok
		}
		return member(key)
	})
}

func (d *pullDecoder) page(p *protocol.PullResponse) bool {
	return d.members(pageKeys, func(key []byte) bool {
		switch string(key) {
		case "records":
			return elems(d, &p.Records, d.record)
		case "removed":
			return elems(d, &p.Removed, func(r *protocol.Removal) bool {
				return d.members(removalKeys, func(key []byte) bool {
					if string(key) == "id" {
						return d.str(&r.ID)
					}
					return d.str(&r.MatterID)
				})
			})
		case "dropped_matters":
			return d.strings(&p.DroppedMatters)
		case "cursor":
			return d.int(&p.Cursor)
		case "more":
			return d.bool(&p.More)
		case "head":
			return d.int(&p.Head)
		case "compacted_through":
			return d.int(&p.CompactedThrough)
		case "total":
			return d.int(&p.Total)
		}
		return false
	})
}

func (d *pullDecoder) record(r *protocol.Record) bool {
	return d.members(recordKeys, func(key []byte) bool {
		switch string(key) {
		case "id":
			return d.str(&r.ID)
		case "collection":
			return d.str(&r.Collection)
		case "matter_id":
			return d.str(&r.MatterID)
		case "version":
			return d.int(&r.Version)
		case "seq":
			return d.int(&r.Seq)
		case "deleted":
			return d.bool(&r.Deleted)
		case "fields":
			if d.next() != '{' {
				return false
			}
			r.Fields = model.Fields{}
			return d.object(func(key []byte) bool {
				v, ok := d.value(1)
				r.Fields[string(key)] = v
				return ok
			})
		case "created_by":
			return d.str(&r.CreatedBy)
		case "created_at":
			return d.time(&r.CreatedAt)
		case "updated_by":
			return d.str(&r.UpdatedBy)
		case "updated_at":
			return d.time(&r.UpdatedAt)
		}
		return false
	})
}

// pushKeys and resultKeys are the keys of a push's answer and of one
// op's result, each a bit.
var (
	pushKeys   = map[string]uint32{"results": 1, "head": 2, "cursor": 4, "prior": 8}
	resultKeys = map[string]uint32{"op_id": 1, "result": 2, "record": 4, "conflict_fields": 8, "dropped": 16,
		"code": 32, "message": 64, "changed_by": 128, "changed_at": 256, "problems": 512}
)

// decodePush is decodePull for a push's answer, into a zero PushResponse:
// a batch's answer carries a record for each op. It declines an op's
// problems (a rejected op's, rare) and leaves them to encoding/json.
func decodePush(data []byte) (protocol.PushResponse, bool) {
	d := &pullDecoder{b: data}
	var p protocol.PushResponse
	ok := d.members(pushKeys, func(key []byte) bool {
		switch string(key) {
		case "results":
			return elems(d, &p.Results, d.result)
		case "head":
			return d.int(&p.Head)
		case "cursor":
			return d.int(&p.Cursor)
		case "prior":
			p.Prior = new(int64)
			return d.int(p.Prior)
		}
		return false
	})
	if !d.end(ok) {
		return protocol.PushResponse{}, false
	}
	return p, true
}

func (d *pullDecoder) result(r *protocol.OpResult) bool {
	return d.members(resultKeys, func(key []byte) bool {
		switch string(key) {
		case "op_id":
			return d.str(&r.OpID)
		case "result":
			return strAs(d, &r.Result)
		case "record":
			r.Record = &protocol.Record{}
			return d.record(r.Record)
		case "conflict_fields":
			return d.strings(&r.ConflictFields)
		case "dropped":
			return d.strings(&r.Dropped)
		case "code":
			return strAs(d, &r.Code)
		case "message":
			return d.str(&r.Message)
		case "changed_by":
			return d.str(&r.ChangedBy)
		case "changed_at":
			return d.time(&r.ChangedAt)
		}
		return false // problems
	})
}

// strAs reads a string into a string type of its own (model.OpResult,
// protocol.Code).
func strAs[T ~string](d *pullDecoder, v *T) bool {
	var s string
	ok := d.str(&s)
	*v = T(s)
	return ok
}

// strings reads an array of strings.
func (d *pullDecoder) strings(v *[]string) bool { return elems(d, v, d.str) }

// elems reads an array into *v (empty, not nil, for []), each element by
// read into a zero value, as encoding/json fills a nil slice.
func elems[T any](d *pullDecoder, v *[]T, read func(*T) bool) bool {
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

// value reads a field's value as encoding/json reads one into an any:
// string, float64, bool, nil, []any or map[string]any.
func (d *pullDecoder) value(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch c := d.next(); {
	case c == '"':
		var s string
		ok := d.str(&s)
		return s, ok
	case c == '{':
		m := map[string]any{}
		ok := d.object(func(key []byte) bool {
			v, ok := d.value(depth + 1)
			m[string(key)] = v
			return ok
		})
		return m, ok
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
		ok := d.bool(&b)
		return b, ok
	case c == 'n':
		return nil, d.word("null")
	case c == '-' || c >= '0' && c <= '9':
		n, ok := d.number()
		if !ok {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	return nil, false
}

func (d *pullDecoder) word(w string) bool {
	if len(d.b)-d.i < len(w) || string(d.b[d.i:d.i+len(w)]) != w {
		return false
	}
	d.i += len(w)
	return true
}

func (d *pullDecoder) bool(b *bool) bool {
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
func (d *pullDecoder) number() ([]byte, bool) {
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

func (d *pullDecoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// int reads an integer; a fraction or an exponent, which encoding/json
// refuses for an int64, is left to it.
func (d *pullDecoder) int(v *int64) bool {
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

// time reads a time as time.Time's UnmarshalJSON does, from the string's
// own bytes, quotes included.
func (d *pullDecoder) time(t *time.Time) bool {
	if d.next() != '"' {
		return false
	}
	start := d.i
	var s string
	if !d.str(&s) {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// str reads a string. Most are taken as they are; one with an escape or a
// byte that is not UTF-8 is rewritten as encoding/json rewrites it.
func (d *pullDecoder) str(s *string) bool {
	if !d.take('"') {
		return false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(raw) {
				*s = string(unquote(raw))
				return true
			}
			*s = string(raw)
			return true
		case c == '\\':
			return d.escaped(start, s)
		case c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return false
}

// escaped finishes reading a string that began at start and has an
// escape at i.
func (d *pullDecoder) escaped(start int, s *string) bool {
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw := d.b[start:d.i]
			d.i++
			out := unquote(raw)
			if out == nil {
				return false
			}
			*s = string(out)
			return true
		case c == '\\':
			d.i++
			if d.i == len(d.b) {
				return false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if d.i+k >= len(d.b) || unhex(d.b[d.i+k]) < 0 {
						return false
					}
				}
				d.i += 4
			default:
				return false
			}
		case c < 0x20:
			return false
		}
		d.i++
	}
	return false
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

// unquote rewrites a string's body (escapes already checked) as
// encoding/json does: escapes resolved, a surrogate pair joined, a lone
// surrogate and each byte that is not UTF-8 made U+FFFD. nil if an escape
// is malformed.
func unquote(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+8)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return nil
			}
			switch raw[i+1] {
			case '"', '\\', '/':
				out = append(out, raw[i+1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				if r < 0 {
					return nil
				}
				i += 6
				if r >= 0xD800 && r < 0xDC00 {
					// The first of a pair: joined with a second that follows.
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if r2 := hex4(raw[i+2:]); r2 >= 0xDC00 && r2 < 0xE000 {
							out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(r2-0xDC00))
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				} else if r >= 0xDC00 && r < 0xE000 {
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r)
			i += n
		}
	}
	return out
}
