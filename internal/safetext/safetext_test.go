package safetext

import (
	"encoding/json"
	"reflect"
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

// TestJSON: JSON text keeps its value, and every character that is not
// visible comes out as an escape; text with none comes back as it was.
func TestJSON(t *testing.T) {
	values := []any{
		map[string]any{"title": "A\u009bB\u202eC\x1b[31m del\x7f", "body": "é 漢字 👍🏽 \u200d ok"},
		[]any{"\\\u009b", "\u2066isolate\u2069", "\ufeffbom", "\ue000private", "\U000e0001tag", "\u2028line"},
		"plain",
	}
	for _, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got := JSON(raw)
		var back, want any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("JSON(%s) = %s, not JSON: %v", raw, got, err)
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("JSON(%s) = %s reads back as %#v, want %#v", raw, got, back, want)
		}
		if strings.ContainsFunc(string(got), func(r rune) bool { return r != '\n' && !visible(r) }) {
			t.Errorf("JSON(%s) = %s still holds a hidden character", raw, got)
		}
	}
	plain := []byte(`{"a":"é 漢字 👍🏽"}`)
	if got := JSON(plain); &got[0] != &plain[0] {
		t.Errorf("JSON of visible text made a copy")
	}
	var buf strings.Builder
	if _, err := JSONWriter(&buf).Write([]byte("\"\u009b\"\n")); err != nil || buf.String() != "\"\\u009b\"\n" {
		t.Errorf("JSONWriter wrote %q, %v", buf.String(), err)
	}
}
