package model

import (
	"strings"
	"testing"
)

func TestFingerprintCountsRulesNotLabels(t *testing.T) {
	const src = `
[[collection]]
name = "matter"
label = "Matters"
  [[collection.field]]
  name = "title"
  type = "text"
  required = true
`
	parse := func(s string) *Schema {
		t.Helper()
		sc, err := ParseSchema([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	base := parse(src).Fingerprint()
	if len(base) != fingerprintLen || base != parse(src).Fingerprint() {
		t.Fatalf("fingerprint %q is not stable", base)
	}
	if parse(strings.Replace(src, `label = "Matters"`, `label = "Cases"`, 1)).Fingerprint() != base {
		t.Error("a new label changed the fingerprint")
	}
	for name, changed := range map[string]string{
		"not required": strings.Replace(src, "required = true", "required = false", 1),
		"a new type":   strings.Replace(src, `type = "text"`, `type = "longtext"`, 1),
		"a new field":  src + "  [[collection.field]]\n  name = \"court\"\n  type = \"text\"\n",
	} {
		if parse(changed).Fingerprint() == base {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
}
