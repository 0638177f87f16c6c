// Package safetext makes text from the server or another user safe to print
// to a terminal: such text is data, never terminal control.
//
// A character a terminal would act on or that hides text is shown as a
// visible Go-style escape instead of being written raw:
//
//   - bytes below 0x20 (NUL, ESC, BEL, …) and DEL as \xHH: ESC is \x1b, NUL \x00;
//   - other code points that are not graphic (C1 controls U+0080–U+009F,
//     bidi overrides and isolates U+202A–U+202E and U+2066–U+2069,
//     zero-width and other format characters, line and paragraph separators,
//     unassigned code points) as \uHHHH, or \UHHHHHHHH beyond U+FFFF;
//   - bytes that are not valid UTF-8 as \xHH.
//
// An escape sequence such as ESC ] 0 ; title BEL therefore prints as the
// harmless text \x1b]0;title\x07. Letters, digits, punctuation, symbols,
// marks and spaces of every script print as they are, and so do the joiners
// U+200C and U+200D that some scripts and emoji need. A backslash typed by a
// person is left alone: the escapes are for reading, not for decoding.
//
// Line keeps the result on one line (for table cells, titles and error
// messages); Text keeps line breaks and tabs (for multi-line fields).
// Output of either is always valid UTF-8 and printing it again changes
// nothing: Line(Line(s)) == Line(s), Text(Text(s)) == Text(s).
package safetext

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Line returns s for printing on one line: a line break (\n, \r\n or \r)
// or a tab becomes one space, and every other hidden character its escape.
func Line(s string) string { return clean(s, false) }

// Text returns s for printing as several lines: every line break (\n, \r\n
// or a lone \r, which would otherwise let text overwrite the line) becomes
// \n, tabs stay, and every other hidden character becomes
// its escape.
func Text(s string) string { return clean(s, true) }

// Lines splits s into lines made safe one by one: Text's line breaks
// without any other control character, for callers that indent or align
// each line themselves.
func Lines(s string) []string {
	parts := strings.Split(Text(s), "\n")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "\t", " ")
	}
	return parts
}

// Safe reports whether s prints as itself on one line: Line(s) == s.
func Safe(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\n' || r == '\r' || r == '\t' || !visible(r) {
			return false
		}
		i += n
	}
	return true
}

// clean is Line (multi false) and Text (multi true). It returns s itself
// when nothing needs changing, so the common case does not allocate.
func clean(s string, multi bool) string {
	if fine(s, multi) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			escapeByte(&b, s[i])
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// \r\n is one line break: drop the \r, the \n follows.
			if !multi {
				b.WriteByte(' ')
				n = 2
			}
		case r == '\n' || r == '\r':
			if multi {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			if multi {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		case visible(r):
			b.WriteString(s[i : i+n])
		case r < utf8.RuneSelf:
			escapeByte(&b, byte(r))
		case r <= 0xFFFF:
			b.WriteString(`\u`)
			hex(&b, uint32(r), 4)
		default:
			b.WriteString(`\U`)
			hex(&b, uint32(r), 8)
		}
		i += n
	}
	return b.String()
}

// fine reports whether clean would return s unchanged.
func fine(s string, multi bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return false
		case r == '\n' || r == '\t':
			if !multi {
				return false
			}
		case !visible(r):
			return false
		}
		i += n
	}
	return true
}

// visible reports whether r prints as itself: graphic characters (letters,
// marks, numbers, punctuation, symbols, spaces) and the two joiners, which
// scripts such as Persian and emoji sequences need. Control, format,
// private-use, separator and unassigned code points are not.
func visible(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	if r == '\u200c' || r == '\u200d' {
		return true
	}
	return unicode.IsGraphic(r)
}

func escapeByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	hex(b, uint32(c), 2)
}

func hex(b *strings.Builder, v uint32, digits int) {
	const digitsHex = "0123456789abcdef"
	for shift := (digits - 1) * 4; shift >= 0; shift -= 4 {
		b.WriteByte(digitsHex[(v>>uint(shift))&0xf])
	}
}

// JSON returns the JSON text b with every character a terminal would act
// on or that hides text written as its \u escape (a surrogate pair beyond
// U+FFFF): the same JSON value, safe to print. encoding/json escapes the
// characters below U+0020 and U+2028–U+2029 already, but writes DEL, C1
// controls, bidi overrides and other format characters as they are. Every
// character outside ASCII in JSON text is inside a string, where an escape
// means the character itself, so b is rewritten without being parsed. b
// must be valid UTF-8, as encoding/json's output is; JSON returns b itself
// when nothing needs changing.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf && b[i] != 0x7f {
			i++
			continue
		}
		if b[i] == 0x7f {
			break
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !visible(r) {
			break
		}
		i += n
	}
	if i == len(b) {
		return b
	}
	var out strings.Builder
	out.Grow(len(b) + 16)
	out.Write(b[:i])
	for i < len(b) {
		if b[i] == 0x7f {
			out.WriteString(`\u007f`) // DEL, which encoding/json writes raw
			i++
			continue
		}
		if b[i] < utf8.RuneSelf {
			out.WriteByte(b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case visible(r):
			out.Write(b[i : i+n])
		case r <= 0xFFFF:
			out.WriteString(`\u`)
			hex(&out, uint32(r), 4)
		default:
			r1, r2 := utf16.EncodeRune(r)
			out.WriteString(`\u`)
			hex(&out, uint32(r1), 4)
			out.WriteString(`\u`)
			hex(&out, uint32(r2), 4)
		}
		i += n
	}
	return []byte(out.String())
}

// JSONWriter returns a writer that passes each write through JSON: for an
// encoding/json Encoder, whose every write is one whole value.
func JSONWriter(w io.Writer) io.Writer { return jsonWriter{w} }

type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(b []byte) (int, error) {
	if _, err := j.w.Write(JSON(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
