// Package fieldtext reads a record's fields as JSON text without decoding
// them: whether the text is exactly what decoding and encoding again would
// write, so that it can be passed on as it is. And it writes them, and
// the answers that carry them, as encoding/json does, byte for byte,
// without its reflection (append.go).
package fieldtext

import (
	"strconv"
	"unicode/utf8"
)

// Canonical reports whether s is fields text that decoding and encoding
// again gives back byte for byte: decoding into a map[string]any of float64
// numbers and lists of strings and encoding with encoding/json, as the
// client's local database and the server's store both do. That is a JSON
// object, without spaces, its keys in increasing order, each value null,
// true, false, a number as encoding/json writes a float64, a string
// escaped as encoding/json escapes it, or a list of such strings. Text that
// passes can go where the encoded fields would go (the journal, the wire)
// without decoding it. The test is strict: anything it is unsure of (an
// object in a value, a key with an escape, a list holding other than
// strings) fails, and the caller decodes and encodes as before.
func Canonical(s string) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	i := 1
	if s[i] == '}' {
		return i+1 == len(s)
	}
	prevKey := ""
	for first := true; ; first = false {
		key, n, ok := plainKey(s, i)
		// Keys are compared as written: with no escape in them, that is
		// how encoding/json orders them. Duplicates would collapse.
		if !ok || (!first && key <= prevKey) {
			return false
		}
		prevKey = key
		i = n
		if i >= len(s) || s[i] != ':' {
			return false
		}
		if i, ok = canonicalValue(s, i+1); !ok || i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			return i+1 == len(s)
		default:
			return false
		}
	}
}

// plainKey reads the key string at s[i]: one with nothing escaped in it.
// It returns the key and the index after its closing quote.
func plainKey(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	for j := start; j < len(s); {
		b := s[j]
		if b == '"' {
			return s[start:j], j + 1, true
		}
		if b < utf8.RuneSelf {
			if !htmlSafe(b) {
				return "", 0, false
			}
			j++
			continue
		}
		size, ok := plainRune(s, j)
		if !ok {
			return "", 0, false
		}
		j += size
	}
	return "", 0, false
}

// canonicalValue checks the value at s[i] and returns the index after it.
func canonicalValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		return canonicalString(s, i)
	case c == '[':
		return canonicalStrings(s, i)
	case c == 'n':
		return literal(s, i, "null")
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == '-' || (c >= '0' && c <= '9'):
		return canonicalNumber(s, i)
	}
	return 0, false
}

func literal(s string, i int, word string) (int, bool) {
	if len(s)-i >= len(word) && s[i:i+len(word)] == word {
		return i + len(word), true
	}
	return 0, false
}

// canonicalStrings checks a list of strings, which decodeFields turns into
// a []string that encodes back to the same list.
func canonicalStrings(s string, i int) (int, bool) {
	i++ // '['
	if i < len(s) && s[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = canonicalString(s, i); !ok || i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// canonicalNumber checks that the number at s[i] is how encoding/json
// writes the float64 it decodes to.
func canonicalNumber(s string, i int) (int, bool) {
	j := i
	for j < len(s) && numberByte(s[j]) {
		j++
	}
	f, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil {
		return 0, false
	}
	// ParseFloat fails rather than give NaN or an infinity here.
	var buf [32]byte
	if string(AppendFloat(buf[:0], f)) != s[i:j] {
		return 0, false
	}
	return j, true
}

func numberByte(b byte) bool {
	return (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E'
}

// canonicalString checks that the string at s[i] is escaped exactly as
// encoding/json escapes what it decodes to: '"' and '\\' as themselves,
// \b \f \n \r \t, other control characters and < > & as \u00XX in lower
// case, U+2028 and U+2029 as \u2028 and \u2029, and nothing else. It
// must be valid UTF-8 (encoding/json writes invalid bytes as \ufffd,
// which decodes to another string).
func canonicalString(s string, i int) (int, bool) {
	if s[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(s); {
		b := s[j]
		switch {
		case b == '"':
			return j + 1, true
		case b == '\\':
			n, ok := canonicalEscape(s, j)
			if !ok {
				return 0, false
			}
			j = n
		case b < utf8.RuneSelf:
			if !htmlSafe(b) {
				return 0, false
			}
			j++
		default:
			size, ok := plainRune(s, j)
			if !ok {
				return 0, false
			}
			j += size
		}
	}
	return 0, false
}

// canonicalEscape checks the escape at s[j] and returns the index after it.
func canonicalEscape(s string, j int) (int, bool) {
	if j+1 >= len(s) {
		return 0, false
	}
	switch s[j+1] {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		return j + 2, true
	case 'u':
	default:
		return 0, false
	}
	if j+6 > len(s) {
		return 0, false
	}
	switch hex := s[j+2 : j+6]; hex {
	case "003c", "003e", "0026", "2028", "2029":
		return j + 6, true
	default:
		// A control character without a short escape.
		if hex[:2] != "00" || !lowerHex(hex[2]) || !lowerHex(hex[3]) {
			return 0, false
		}
		switch c := unhex(hex[2])<<4 | unhex(hex[3]); c {
		case '\b', '\f', '\n', '\r', '\t':
			return 0, false
		default:
			return j + 6, c < 0x20
		}
	}
}

// plainRune checks that the multi-byte character at s[j] is valid UTF-8
// that encoding/json writes as it is, and returns its size.
func plainRune(s string, j int) (int, bool) {
	c, size := utf8.DecodeRuneInString(s[j:])
	if (c == utf8.RuneError && size == 1) || c == '\u2028' || c == '\u2029' {
		return 0, false
	}
	return size, true
}

// htmlSafe reports whether encoding/json writes the ASCII byte b as it is
// (it escapes control characters, quote, backslash and < > &).
func htmlSafe(b byte) bool {
	return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}

func lowerHex(b byte) bool { return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') }

func unhex(b byte) byte {
	if b <= '9' {
		return b - '0'
	}
	return b - 'a' + 10
}
