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
	"strings"
	"unicode"
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
