package server

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// lookalikes maps letters of other scripts that print as a Latin letter
// in the fonts of terminals and browsers to that letter: a user name is
// read by people (in lists, in the audit log, as a record's author), and
// "аlice" in Cyrillic must not pass for "alice". Both cases are listed, as
// upper-case Н and lower-case н look like different Latin letters.
var lookalikes = map[rune]rune{
	// Cyrillic.
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
	'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'һ': 'h', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l', 'ү': 'y',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't', 'У': 'y', 'Х': 'x',
	'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Ԁ': 'd', 'Һ': 'h', 'Ԛ': 'q', 'Ԝ': 'w', 'Ӏ': 'l', 'Ү': 'y',
	// Greek.
	'α': 'a', 'ο': 'o', 'ν': 'v', 'ρ': 'p', 'ι': 'i', 'κ': 'k', 'υ': 'u', 'χ': 'x', 'γ': 'y',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't',
	'Υ': 'y', 'Χ': 'x',
	// Latin letters that print as others.
	'ı': 'i', 'ȷ': 'j', 'ℓ': 'l', 'ɡ': 'g',
}

// nameSkeleton is how a name reads: compatibility forms folded (a
// full-width "ａ" is "a"), accents dropped, letters of other scripts that
// print as Latin ones made Latin, and case ignored. Two names with one
// skeleton cannot be told apart at a glance.
func nameSkeleton(name string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(name) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if l, ok := lookalikes[r]; ok {
			r = l
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
