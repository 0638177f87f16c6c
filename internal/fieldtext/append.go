package fieldtext

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The appenders write what json.Marshal writes, byte for byte, without its
// reflection: a record's fields were encoded some four times for each op
// a push applied (stored, audited, kept as the op's answer, sent), and
// json.Marshal was a sixth of the server's time. What they do not know
// they hand to json.Marshal, so that they never differ from it.

// maxDepth is how deep AppendJSON follows lists and objects itself; below
// that it hands the value to json.Marshal, which notices a value that
// contains itself and fails where the appender would recurse forever.
const maxDepth = 64

// AppendJSON appends v's JSON, byte for byte what json.Marshal writes for
// it, or fails with json.Marshal's error. It writes nil, strings, bools,
// float64, int, int64, []string, []any and map[string]any itself and
// anything else (a named type, NaN, a json.Marshaler) through
// json.Marshal.
func AppendJSON(b []byte, v any) ([]byte, error) {
	return appendValue(b, v, 0)
}

// AppendObject appends m as json.Marshal writes a map[string]any (null
// when it is nil): a record's fields, whose model.Fields can be passed as
// it is.
func AppendObject(b []byte, m map[string]any) ([]byte, error) {
	return appendObject(b, m, 0)
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return appendMarshal(b, v)
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return AppendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return appendMarshal(b, v) // its error
		}
		return AppendFloat(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case []string:
		return AppendStrings(b, v), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return appendObject(b, v, depth+1)
	}
	return appendMarshal(b, v)
}

func appendObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	return AppendMap(b, m, func(b []byte, v any) ([]byte, error) { return appendValue(b, v, depth) })
}

// appendMarshal appends what json.Marshal writes for v.
func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// entry is a key of a map and its value, to be sorted by key.
type entry[V any] struct {
	key   string
	value V
}

// AppendMap appends m as json.Marshal writes a map with string keys, with
// value writing each value: null for a nil map, otherwise its keys in
// increasing byte order.
func AppendMap[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	// A record has a handful of fields: sort them on the stack.
	var small [16]entry[V]
	entries := small[:0]
	for k, v := range m {
		entries = append(entries, entry[V]{k, v})
	}
	slices.SortFunc(entries, func(x, y entry[V]) int { return strings.Compare(x.key, y.key) })
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, e.key), ':')
		var err error
		if b, err = value(b, e.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// AppendStrings appends list as json.Marshal writes a []string (null when
// it is nil).
func AppendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// plainASCII tells, for each ASCII byte, whether encoding/json writes it as
// it is in a string (htmlSafe); a table is quicker than the comparisons in
// a loop over every byte.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = htmlSafe(byte(c))
	}
	return t
}()

// AppendString appends s quoted as encoding/json quotes a string: '"' and
// '\\' escaped with a backslash, \b \f \n \r \t, other control characters
// and HTML's < > & as \u00XX, U+2028 and U+2029 as \u2028 and \u2029 (they
// end a line in JavaScript), each byte that is not UTF-8 as \ufffd, and
// everything else as it is.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendFloat appends f as encoding/json writes a float64, which must be
// finite (json.Marshal fails on NaN and the infinities): as JavaScript
// writes numbers, in plain decimals from 1e-6 up to 1e21 and with an
// exponent beyond, an exponent without a leading zero.
func AppendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// AppendTime appends t as json.Marshal writes a time.Time (RFC 3339 with
// nanoseconds, quoted), or fails with its error for a time RFC 3339 cannot
// write: a year outside [0,9999] or a zone 24 hours or more away from UTC.
func AppendTime(b []byte, t time.Time) ([]byte, error) {
	n := len(b)
	b = t.AppendFormat(append(b, '"'), time.RFC3339Nano)
	// The checks of Time.MarshalJSON, on what AppendFormat wrote.
	s := b[n+1:]
	if s[len("9999")] != '-' {
		return appendMarshal(b[:n], t)
	}
	if s[len(s)-1] != 'Z' {
		offset := s[len(s)-len("+07:00"):]
		if c := offset[0]; '0' <= c && c <= '9' || 10*(offset[1]-'0')+(offset[2]-'0') >= 24 {
			return appendMarshal(b[:n], t)
		}
	}
	return append(b, '"'), nil
}
