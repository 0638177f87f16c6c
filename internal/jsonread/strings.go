package jsonread

import (
	"encoding/binary"
	"unicode/utf8"
)

// plain marks the bytes a string holds as they are: ASCII but for the
// quote, the backslash and control characters.
var plain = func() (p [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
	}
	return p
}()

// plainEnd returns the index of the first byte of b from i that is not
// plain: most strings are read to their end here, eight bytes a step
// while none of them is a quote, a backslash, a control character or not
// ASCII (a text field's value runs to hundreds of bytes).
func plainEnd(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// below has a byte's high bit set for each byte of x below n (x has
	// no byte of 0x80 or more; it may mark a later byte too, which is
	// never read as such): whether any is, is exact.
	below := func(x uint64, n byte) uint64 { return (x - ones*uint64(n)) &^ x & highs }
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if x&highs != 0 || below(x, 0x20)|below(x^(ones*'"'), 1)|below(x^(ones*'\\'), 1) != 0 {
			break
		}
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	return i
}

// Str reads a string. Most are taken as they are; one with an escape or a
// byte that is not UTF-8 is rewritten as encoding/json rewrites it.
func (d *Reader) Str(s *string) bool {
	raw, ok := d.quoted(s)
	if ok && raw != nil {
		*s = string(raw)
	}
	return ok
}

// quoted reads a string. One written as it is (no escape, valid UTF-8),
// as nearly every one is, comes back as its bytes in the input; any other
// is rewritten as encoding/json rewrites it, into *s, and raw is nil.
func (d *Reader) quoted(s *string) (raw []byte, ok bool) {
	if !d.take('"') {
		return nil, false
	}
	start := d.i
	d.i = plainEnd(d.b, d.i)
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw = d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(raw) {
				*s = string(unquote(raw))
				return nil, true
			}
			return raw, true
		case c == '\\':
			return nil, d.escaped(start, s)
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// escaped finishes reading a string that began at start and has an
// escape at i.
func (d *Reader) escaped(start int, s *string) bool {
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
