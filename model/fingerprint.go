package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// fingerprintLen is how many hex digits of the hash a fingerprint keeps:
// enough that two different schemas never meet the same one in practice.
const fingerprintLen = 16

// Fingerprint names the schema's rules for data — collections, their
// fields, types, required flags, references, allowed values and bounds —
// so that a client and a server can tell whether they validate alike.
// Labels, columns and merge policies do not count: they change nothing a
// record may hold. Nor do fixed fields: they limit edits, not what a
// record may hold, and an edit a server refuses as fixed is told so by
// its own problem, which a client of any schema can show as it is.
func (s *Schema) Fingerprint() string {
	type field struct {
		Name     string    `json:"n"`
		Type     FieldType `json:"t"`
		Required bool      `json:"r,omitempty"`
		Ref      string    `json:"ref,omitempty"`
		Values   []string  `json:"v,omitempty"`
		Min      *float64  `json:"min,omitempty"`
		Max      *float64  `json:"max,omitempty"`
	}
	type collection struct {
		Name   string  `json:"n"`
		Fields []field `json:"f"`
	}
	var cs []collection
	for _, c := range s.Collections {
		fs := make([]field, len(c.Fields))
		for i, f := range c.Fields {
			fs[i] = field{f.Name, f.Type, f.Required, f.Ref, f.Values, f.Min, f.Max}
		}
		cs = append(cs, collection{c.Name, fs})
	}
	data, err := json.Marshal(cs)
	if err != nil {
		panic("model: a schema that cannot be encoded: " + err.Error()) // only plain types above
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:fingerprintLen]
}
