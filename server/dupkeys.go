package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// duplicateKey returns the first key that appears twice in one object of
// a JSON document that already decoded without error, or "". Keys are
// compared as encoding/json matches struct fields (case-insensitively,
// escapes decoded): {"user":"a","USER":"b"} would decode with the last
// one winning, so a body could say two things and mean one.
func duplicateKey(doc []byte) string {
	var stack []map[string]bool // one per open object or array (nil for arrays)
	expectKey := false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; c {
		case '{':
			stack = append(stack, map[string]bool{})
			expectKey = true
		case '[':
			stack = append(stack, nil)
			expectKey = false
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
		case '"':
			end := stringEnd(doc, i)
			if expectKey {
				key := keyOf(doc[i : end+1])
				folded := fold(key)
				if stack[len(stack)-1][folded] {
					return key
				}
				stack[len(stack)-1][folded] = true
				expectKey = false
			}
			i = end
		}
	}
	return ""
}

// stringEnd returns the index of the quote that closes the string opening
// at doc[start].
func stringEnd(doc []byte, start int) int {
	for i := start + 1; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(doc) - 1
}

// keyOf decodes a quoted key.
func keyOf(quoted []byte) string {
	s := string(quoted[1 : len(quoted)-1])
	if strings.ContainsRune(s, '\\') {
		if err := json.Unmarshal(quoted, &s); err != nil {
			return fmt.Sprintf("%q", quoted)
		}
	}
	return s
}

// fold maps every rune to the smallest of its case-folding orbit, so that
// fold(a) == fold(b) exactly when strings.EqualFold(a, b), as
// encoding/json compares keys with struct fields.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
