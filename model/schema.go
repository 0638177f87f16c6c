// Package model is Casefile's pure domain: the collection schema, field
// values and their validation, records, ops, sync states and the field merge
// rules. It knows nothing of SQL, HTTP or terminals.
package model

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// FieldType is the kind of value a field holds.
type FieldType string

// The field types a schema may declare.
const (
	TypeText     FieldType = "text"     // one line of text
	TypeLongText FieldType = "longtext" // free text with line breaks
	TypeNumber   FieldType = "number"   // a decimal number
	TypeBool     FieldType = "bool"     // true or false
	TypeDate     FieldType = "date"     // a calendar day, YYYY-MM-DD
	TypeDateTime FieldType = "datetime" // an instant, RFC 3339
	TypeEnum     FieldType = "enum"     // one of the field's declared values
	TypeRef      FieldType = "ref"      // the id of a record of another collection
	TypeTags     FieldType = "tags"     // a list of short texts
)

var fieldTypes = []FieldType{TypeText, TypeLongText, TypeNumber, TypeBool, TypeDate, TypeDateTime, TypeEnum, TypeRef, TypeTags}

// MergePolicy says what the server does when an edit overlaps a newer server
// change of the same field.
type MergePolicy string

// The merge policies; PolicyReview is the default.
const (
	PolicyReview     MergePolicy = "review"           // a conflict for a person to resolve
	PolicyLastWriter MergePolicy = "last-writer-wins" // the edit that reaches the server last wins
	PolicyServerWins MergePolicy = "server-wins"      // the server's value is kept, the edit dropped
)

// MatterCollection is the collection whose records are the unit of sharing.
const MatterCollection = "matter"

// MatterField is the ref field by which every non-matter record belongs to a matter.
const MatterField = "matter_id"

// Size limits on field values, shared by client and server.
const (
	MaxTextLen     = 1000   // characters in a text, enum or ref value
	MaxLongTextLen = 100000 // characters in a longtext value
	MaxTags        = 100    // tags in one tags value
	MaxTagLen      = 100    // characters in one tag
)

// Field is one declared field of a collection.
type Field struct {
	Name     string    `toml:"name"`
	Label    string    `toml:"label"`
	Type     FieldType `toml:"type"`
	Required bool      `toml:"required"`
	Ref      string    `toml:"ref"`    // target collection of a ref field
	Values   []string  `toml:"values"` // allowed values of an enum field
	// Labels are how people read an enum's values, one each, in order
	// (the stored value stays the value): by default each value with its
	// underscores as spaces ("on_hold" reads "on hold").
	Labels []string    `toml:"labels"`
	Min    *float64    `toml:"min"`   // lower bound of a number field
	Max    *float64    `toml:"max"`   // upper bound of a number field
	Merge  MergePolicy `toml:"merge"` // overrides the collection's policy
	// Fixed fields take their value when the record is made; no edit may
	// change it (an attachment's size and sha256, which its bytes decide).
	Fixed bool `toml:"fixed"`
	// Unit says how people type and read a number field: UnitMinutes
	// ("1h30"), or "" for a plain number. It changes no stored value.
	Unit string `toml:"unit"`
}

// Collection is one declared collection: its fields and how lists show it.
type Collection struct {
	Name    string      `toml:"name"`
	Label   string      `toml:"label"`
	Columns []string    `toml:"columns"` // fields shown as list columns
	Merge   MergePolicy `toml:"merge"`
	Fields  []Field     `toml:"field"`
	// Hidden collections are not listed on their own by the UI: their
	// records are shown with the record they belong to (attachments).
	Hidden bool `toml:"hidden"`

	byName map[string]int
}

// Schema is the set of collections, in declaration order.
type Schema struct {
	Collections []*Collection `toml:"collection"`

	byName map[string]*Collection
}

// ParseSchema reads a TOML schema and checks that it is coherent.
func ParseSchema(data []byte) (*Schema, error) {
	var s Schema
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&s)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("schema: unknown key %q", und[0].String())
	}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return &s, nil
}

func (s *Schema) init() error {
	s.byName = make(map[string]*Collection)
	for _, c := range s.Collections {
		if !validName(c.Name) {
			return fmt.Errorf("collection name %q: use lower-case letters, digits and _", c.Name)
		}
		if _, dup := s.byName[c.Name]; dup {
			return fmt.Errorf("collection %q declared twice", c.Name)
		}
		s.byName[c.Name] = c
		if c.Label == "" {
			c.Label = c.Name
		}
		if c.Merge == "" {
			c.Merge = PolicyReview
		}
		if !validPolicy(c.Merge) {
			return fmt.Errorf("%s: unknown merge policy %q", c.Name, c.Merge)
		}
		c.byName = make(map[string]int)
		for i := range c.Fields {
			f := &c.Fields[i]
			if !validName(f.Name) || isReservedName(f.Name) {
				return fmt.Errorf("%s: field name %q is not allowed", c.Name, f.Name)
			}
			if _, dup := c.byName[f.Name]; dup {
				return fmt.Errorf("%s.%s declared twice", c.Name, f.Name)
			}
			c.byName[f.Name] = i
			if f.Label == "" {
				f.Label = strings.ReplaceAll(f.Name, "_", " ")
			}
			if !slices.Contains(fieldTypes, f.Type) {
				return fmt.Errorf("%s.%s: unknown type %q", c.Name, f.Name, f.Type)
			}
			if f.Type == TypeEnum && len(f.Values) == 0 {
				return fmt.Errorf("%s.%s: an enum needs values", c.Name, f.Name)
			}
			if err := f.checkLabels(); err != nil {
				return fmt.Errorf("%s.%s: %w", c.Name, f.Name, err)
			}
			if f.Type == TypeRef && f.Ref == "" {
				return fmt.Errorf("%s.%s: a ref needs the collection it points to", c.Name, f.Name)
			}
			if f.Unit != "" && (f.Unit != UnitMinutes || f.Type != TypeNumber) {
				return fmt.Errorf("%s.%s: unit %q: only a number field may have a unit, and the only unit is %q", c.Name, f.Name, f.Unit, UnitMinutes)
			}
			if f.Merge != "" && !validPolicy(f.Merge) {
				return fmt.Errorf("%s.%s: unknown merge policy %q", c.Name, f.Name, f.Merge)
			}
		}
		if len(c.Columns) == 0 && len(c.Fields) > 0 {
			c.Columns = []string{c.Fields[0].Name}
		}
		for _, col := range c.Columns {
			if _, ok := c.byName[col]; !ok {
				return fmt.Errorf("%s: column %q is not a field", c.Name, col)
			}
		}
	}
	for _, c := range s.Collections {
		for _, f := range c.Fields {
			if f.Type == TypeRef {
				if _, ok := s.byName[f.Ref]; !ok {
					return fmt.Errorf("%s.%s: refers to unknown collection %q", c.Name, f.Name, f.Ref)
				}
			}
		}
		if c.Name == MatterCollection {
			continue
		}
		f, ok := c.Field(MatterField)
		if !ok || f.Type != TypeRef || f.Ref != MatterCollection || !f.Required {
			return fmt.Errorf("%s: needs a required field %q of type ref to %q", c.Name, MatterField, MatterCollection)
		}
	}
	if _, ok := s.byName[MatterCollection]; !ok {
		return fmt.Errorf("no %q collection", MatterCollection)
	}
	return nil
}

// Collection returns the named collection.
func (s *Schema) Collection(name string) (*Collection, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// Names returns the collection names in declaration order.
func (s *Schema) Names() []string {
	names := make([]string, len(s.Collections))
	for i, c := range s.Collections {
		names[i] = c.Name
	}
	return names
}

// Listed returns the collections a person browses on their own, in
// declaration order: every collection that is not hidden.
func (s *Schema) Listed() []*Collection {
	var out []*Collection
	for _, c := range s.Collections {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// Field returns the named field.
func (c *Collection) Field(name string) (*Field, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return &c.Fields[i], true
}

// FieldNames returns the field names in declaration order.
func (c *Collection) FieldNames() []string {
	names := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		names[i] = f.Name
	}
	return names
}

// Policy returns the merge policy that applies to the named field.
func (c *Collection) Policy(field string) MergePolicy {
	if f, ok := c.Field(field); ok && f.Merge != "" {
		return f.Merge
	}
	return c.Merge
}

// Searchable reports whether the field's text is indexed for full-text search.
func (f *Field) Searchable() bool {
	switch f.Type {
	case TypeText, TypeLongText, TypeTags, TypeEnum:
		return true
	}
	return false
}

// isReservedName reports names that records carry outside their fields.
func isReservedName(name string) bool {
	switch name {
	case "id", "collection", "version", "state", "deleted", "seq", "fields",
		"created_at", "created_by", "updated_at", "updated_by":
		return true
	}
	return false
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func validPolicy(p MergePolicy) bool {
	return p == PolicyReview || p == PolicyLastWriter || p == PolicyServerWins
}

// checkLabels checks an enum's labels, or gives it the default ones: one
// label a value, none empty, no two alike (a person could not tell
// their values apart).
func (f *Field) checkLabels() error {
	if f.Type != TypeEnum {
		if len(f.Labels) > 0 {
			return errors.New("only an enum has labels")
		}
		return nil
	}
	if f.Labels == nil {
		for _, v := range f.Values {
			f.Labels = append(f.Labels, strings.ReplaceAll(v, "_", " "))
		}
	} else if len(f.Labels) != len(f.Values) {
		return fmt.Errorf("%d labels for %d values: give one label a value, in the values' order", len(f.Labels), len(f.Values))
	}
	seen := make(map[string]string, len(f.Labels))
	for i, l := range f.Labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("value %q has an empty label", f.Values[i])
		}
		if other, dup := seen[strings.ToLower(l)]; dup {
			return fmt.Errorf("values %q and %q both read %q: give them labels that differ", other, f.Values[i], l)
		}
		seen[strings.ToLower(l)] = f.Values[i]
	}
	return nil
}

// ChoiceLabel is how people read v, a value of the enum f: its label, or
// v itself when f does not list it (a value a newer schema added).
func (f *Field) ChoiceLabel(v string) string {
	if i := slices.Index(f.Values, v); i >= 0 && i < len(f.Labels) {
		return f.Labels[i]
	}
	return v
}
