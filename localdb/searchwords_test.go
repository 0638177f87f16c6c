package localdb

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// referenceWords is the plain definition of the index's words: split at
// every rune that is not a letter, a digit or a combining mark, then each
// word decomposed, its marks dropped and lower-cased.
func referenceWords(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Mn, r)
	}) {
		var b strings.Builder
		for _, r := range norm.NFD.String(w) {
			if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(unicode.ToLower(r))
			}
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out
}

// searchWords, with its ASCII fast path, cuts every text into the words
// of the plain definition: fixed cases and random mixes of ASCII,
// accented letters, marks, digits, symbols and invalid bytes.
func TestSearchWordsMatchesDefinition(t *testing.T) {
	cases := []string{"", " ", "Called the CLERK: room 4, 10:30.", "Café Müller—Straße", "e\u0301te\u0301 ÉTÉ",
		"naïve/coöperate", "日本語 テキスト", "x\u200by", "Ωmega ω", "A1b2-C3", "\xff\xfeabc\xff", "ǅemal ǈ", "١٢٣ digits"}
	pieces := []string{"a", "Z", "é", "E\u0301", "\u0301", " ", "-", "9", "ß", "İ", "—", "\xff", "日", "ǅ", ".", "Ω", "\t", "x"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range rnd.IntN(12) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if got, want := searchWords(c), referenceWords(c); !slices.Equal(got, want) {
			t.Fatalf("searchWords(%q) = %q, want %q", c, got, want)
		}
	}
}

// searchBody holds, for an encrypted database, the blind token of each
// distinct word in the order the words first come, however the words
// repeat and whatever their case and accents.
func TestSealedSearchBodyIsDistinctTokensInOrder(t *testing.T) {
	db, _, _ := openSealed(t)
	pieces := []string{"Clerk", "clerk", "CLERK", "café", "CAFE", "hearing", "10", "30", " ", ", ", "\n", "Müller", "a", "b"}
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		var b strings.Builder
		for range rnd.IntN(3000) / 10 {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
			b.WriteByte(' ')
		}
		text := b.String()
		var want []string
		for _, w := range referenceWords(text) {
			if tok := db.sealer.Blind(w); !slices.Contains(want, tok) {
				want = append(want, tok)
			}
		}
		if got := db.searchBody(text); got != strings.Join(want, " ") {
			t.Fatalf("searchBody(%q) = %q, want %q", text, got, strings.Join(want, " "))
		}
	}
}
