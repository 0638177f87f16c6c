package localdb

import "casefile/internal/fieldtext"

// canonicalFields reports whether s is fields text that decodeFields and
// then encodeFields give back byte for byte (fieldtext.Canonical); the
// fuzz test holds it to those two.
func canonicalFields(s string) bool { return fieldtext.Canonical(s) }
