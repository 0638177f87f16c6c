package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"Müller & Söhne — §12 «Vertrag» 契約 👨‍👩‍👧", "Müller & Söhne — §12 «Vertrag» 契約 👨‍👩‍👧"},
		{"\x1b]0;pwned\x07title", `\x1b]0;pwned\x07title`},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\x00b", `a\x00b`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m csi", `c1 \u009b31m csi`},
		{"invoice\u202egpj.exe", `invoice\u202egpj.exe`},
		{"\u2066isolate\u2069 \u202a\u202b\u202c\u202d", `\u2066isolate\u2069 \u202a\u202b\u202c\u202d`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"sep\u2028line\u2029para", `sep\u2028line\u2029para`},
		{"tag \U000E0041", `tag \U000e0041`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"two\nlines\r\nthree\rfour\tfive", "two lines three four five"},
		{`C:\path\x1b`, `C:\path\x1b`},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"first\nsecond\tcol", "first\nsecond\tcol"},
		{"windows\r\nlines", "windows\nlines"},
		{"overwrite\rhidden", "overwrite\nhidden"},
		{"\x1b[2J\x1b[H\nafter", "\\x1b[2J\\x1b[H\nafter"},
		{"bidi\u202e\nnext", "bidi\\u202e\nnext"},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Lines("a\tb\nc\x1bd\r\ne"); strings.Join(got, "|") != `a b|c\x1bd|e` {
		t.Errorf("Lines = %q", got)
	}
}

func TestSafe(t *testing.T) {
	if !Safe("Müller 契約") || Safe("a\nb") || Safe("x\u202e") || Safe("\xff") {
		t.Error("Safe disagrees with Line")
	}
}

// checkPrintable fails t unless out is valid UTF-8 with no code point a
// terminal acts on: only visible ones, plus the breaks the mode allows.
func checkPrintable(t *testing.T, fn, in, out string, multi bool) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("%s(%q) = %q: not valid UTF-8", fn, in, out)
	}
	for _, r := range out {
		if visible(r) || (multi && (r == '\n' || r == '\t')) {
			continue
		}
		t.Fatalf("%s(%q) = %q: holds %U", fn, in, out, r)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]0;t\x07", "\x1b[2J", "a\r\nb\rc\n", "\u202e\u2066x", "\x00\x7f\xff", "\u0085\u009b", "👨‍👩‍👧", "\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, text := Line(s), Text(s)
		checkPrintable(t, "Line", s, line, false)
		checkPrintable(t, "Text", s, text, true)
		if Line(line) != line || Text(text) != text {
			t.Fatalf("not idempotent for %q: %q, %q", s, line, text)
		}
		if Safe(s) != (line == s) {
			t.Fatalf("Safe(%q) = %v but Line gives %q", s, Safe(s), line)
		}
		// Nothing visible is lost: without breaks and escapes, the text
		// that was safe stays in order.
		if Line(text) != line {
			t.Fatalf("Line(Text(%q)) = %q, Line = %q", s, Line(text), line)
		}
		for _, l := range Lines(s) {
			checkPrintable(t, "Lines", s, l, false)
		}
	})
}

func BenchmarkLineClean(b *testing.B) {
	s := strings.Repeat("Client meeting notes, Müller v. Schmidt. ", 8)
	for b.Loop() {
		Line(s)
	}
}
