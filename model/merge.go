package model

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Merge is what the server does with an update's fields.
type Merge struct {
	Apply     Fields   // fields to write (their values differ from the server's)
	Dropped   []string // fields whose edit lost to the server (server-wins)
	Conflicts []string // fields that overlap a newer server change (review); non-empty means apply nothing
	Merged    bool     // the update lands on a newer version than its base
}

// ThreeWay decides how an update, made on baseVersion, applies to a record
// now at version with the given current values, whose fields last changed at
// fieldVersions. A field the server has not changed since the base is simply
// applied; one it has changed overlaps, and the field's policy decides. Edits
// that set the value the server already has never conflict.
func ThreeWay(c *Collection, version int64, current Fields, fieldVersions map[string]int64, baseVersion int64, changes Fields) Merge {
	m := Merge{Apply: Fields{}, Merged: version > baseVersion}
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		v := changes[name]
		if Equal(current[name], v) {
			continue
		}
		if fieldVersions[name] <= baseVersion {
			m.Apply[name] = v
			continue
		}
		switch c.Policy(name) {
		case PolicyLastWriter:
			m.Apply[name] = v
		case PolicyServerWins:
			m.Dropped = append(m.Dropped, name)
		default:
			m.Conflicts = append(m.Conflicts, name)
		}
	}
	if len(m.Conflicts) > 0 {
		m.Apply = nil
	}
	return m
}

// ConflictKind says which two changes met.
type ConflictKind string

// The conflict kinds.
const (
	ConflictEdit        ConflictKind = "edit"         // both sides changed the same fields differently
	ConflictEditDeleted ConflictKind = "edit_deleted" // this device edited a record the server has deleted
	ConflictDeleteEdit  ConflictKind = "delete_edit"  // this device deleted a record the server has changed since
)

// FieldConflict is one overlapping field: its value at the base version,
// on this device, and on the server now.
type FieldConflict struct {
	Field  string `json:"field"`
	Base   any    `json:"base"`
	Mine   any    `json:"mine"`
	Theirs any    `json:"theirs"`
}

// Conflict is an op the server would not apply because it overlaps a newer
// server change. It is kept until a person resolves it.
type Conflict struct {
	RecordID      string          `json:"record_id"`
	Collection    string          `json:"collection"`
	OpID          string          `json:"op_id"` // the op that met the conflict
	Kind          ConflictKind    `json:"kind"`
	BaseVersion   int64           `json:"base_version"`   // the version the op was made on
	TheirsVersion int64           `json:"theirs_version"` // the server version it was reviewed against
	Fields        []FieldConflict `json:"fields"`         // overlapping fields
	Mine          Fields          `json:"mine"`           // every field the op changed
	Theirs        Fields          `json:"theirs"`         // the server's record now; for edit_deleted, the fields its tombstone kept
	// TheirsBy and TheirsAt say who made the server's change the op met,
	// and when: empty and zero when the server did not say.
	TheirsBy  string    `json:"theirs_by,omitempty"`
	TheirsAt  time.Time `json:"theirs_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
}

// Take names a side of a conflict.
type Take string

// The sides a resolution can take.
const (
	TakeMine   Take = "mine"
	TakeTheirs Take = "theirs"
	TakeValue  Take = "value" // a value the person typed
)

// Choice is the resolution of one field.
type Choice struct {
	Take  Take `json:"take"`
	Value any  `json:"value,omitempty"` // with TakeValue
}

// Resolution is a person's decision on a conflict: a side for every field
// not chosen one by one. For delete conflicts, TakeMine means "delete" for a
// delete_edit and "restore with my edits" for an edit_deleted.
type Resolution struct {
	All    Take              `json:"all,omitempty"`
	Fields map[string]Choice `json:"fields,omitempty"`
}

// Resolve turns a resolution into the op that carries it out, based on the
// server version the conflict was reviewed against. It returns nil when the
// resolution keeps the server's state (nothing to send).
func (c Conflict) Resolve(col *Collection, r Resolution, opID string) (*Op, error) {
	op := &Op{OpID: opID, RecordID: c.RecordID, Collection: c.Collection, BaseVersion: c.TheirsVersion}
	switch c.Kind {
	case ConflictDeleteEdit:
		switch r.All {
		case TakeMine:
			op.Kind = OpDelete
			return op, nil
		case TakeTheirs:
			return nil, nil
		}
		return nil, fmt.Errorf("a deleted-but-changed conflict is resolved with mine (delete) or theirs (keep)")
	case ConflictEditDeleted:
		switch r.All {
		case TakeMine:
			op.Kind, op.Fields = OpCreate, c.restored(col)
			if col != nil {
				// A device that holds too little of the record (a repair
				// rebuilt it from its queued changes alone, and the
				// server's delete kept none of its fields) would restore
				// a record the server must refuse.
				if _, probs := col.Validate(op.Fields, true); len(probs) > 0 {
					return nil, fmt.Errorf("cannot restore %s %s: this device holds too little of it to bring it back (%v); "+
						"keep it deleted (theirs), and make the record again if it is still needed", c.Collection, c.RecordID, probs)
				}
			}
			return op, nil
		case TakeTheirs:
			return nil, nil
		}
		return nil, fmt.Errorf("an edited-but-deleted conflict is resolved with mine (restore) or theirs (stay deleted)")
	}
	op.Kind = OpUpdate
	op.Fields = Fields{}
	conflicting := make([]string, len(c.Fields))
	for i, fc := range c.Fields {
		conflicting[i] = fc.Field
	}
	for name := range r.Fields {
		if !slices.Contains(conflicting, name) {
			return nil, fmt.Errorf("%s.%s: not a conflicting field", c.Collection, name)
		}
	}
	// Fields that did not overlap are kept as this device made them.
	for k, v := range c.Mine {
		if !slices.Contains(conflicting, k) {
			op.Fields[k] = v
		}
	}
	for _, fc := range c.Fields {
		ch, ok := r.Fields[fc.Field]
		if !ok {
			if r.All == "" {
				return nil, fmt.Errorf("%s.%s: choose mine, theirs or a value", c.Collection, fc.Field)
			}
			ch = Choice{Take: r.All}
		}
		switch ch.Take {
		case TakeMine:
			op.Fields[fc.Field] = fc.Mine
		case TakeTheirs:
			// The server already has it.
		case TakeValue:
			f, ok := col.Field(fc.Field)
			if !ok {
				return nil, fmt.Errorf("%s.%s: no such field", c.Collection, fc.Field)
			}
			v, err := f.Normalize(ch.Value)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", c.Collection, fc.Field, err)
			}
			if v == nil && f.Required {
				return nil, fmt.Errorf("%s.%s: is required and cannot be empty", c.Collection, fc.Field)
			}
			op.Fields[fc.Field] = v
		default:
			return nil, fmt.Errorf("%s.%s: unknown choice %q", c.Collection, fc.Field, ch.Take)
		}
	}
	for k, v := range op.Fields {
		if Equal(v, c.Theirs[k]) {
			delete(op.Fields, k)
		}
	}
	if len(op.Fields) == 0 {
		return nil, nil
	}
	return op, nil
}

// restored is the record "restore with my edits" brings back from an
// edit_deleted conflict: the fields the server last held (theirs), with
// this device's own changes (mine) laid on top by the field rules of an
// update — a change of a field the server had not changed since the base
// applies; one the server changed too follows the field's policy, the
// person's "mine" standing for review. A field this device did not
// change keeps the server's value, so a restore never reverts another
// user's edit. A conflict stored without theirs falls back on the last
// copy this device knew (the base of each field).
func (c Conflict) restored(col *Collection) Fields {
	fields := Fields{}
	base := map[string]any{}
	for _, fc := range c.Fields {
		base[fc.Field] = fc.Base
	}
	if c.Theirs != nil {
		fields = c.Theirs.Clone()
	} else {
		for f, v := range base {
			if v != nil {
				fields[f] = v
			}
		}
	}
	for f, mine := range c.Mine {
		theirs := fields[f]
		switch {
		case Equal(mine, theirs):
		case Equal(base[f], theirs):
			fields[f] = mine
		case col != nil && col.Policy(f) == PolicyServerWins:
		default:
			fields[f] = mine
		}
	}
	for f, v := range fields {
		if v == nil {
			delete(fields, f)
		}
	}
	return fields
}

// MergeTags merges three versions of a tags field as sets: a tag either
// side added is in, a tag of the base either side removed is out. The
// base's order comes first, then mine's additions, then theirs'.
func MergeTags(base, mine, theirs any) []string {
	b, m, t := tagList(base), tagList(mine), tagList(theirs)
	out := []string{}
	add := func(tag string) {
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	for _, tag := range b {
		if slices.Contains(m, tag) && slices.Contains(t, tag) {
			add(tag)
		}
	}
	for _, side := range [][]string{m, t} {
		for _, tag := range side {
			if !slices.Contains(b, tag) {
				add(tag)
			}
		}
	}
	return out
}

// tagList reads a tags value as stored ([]string) or decoded from JSON
// ([]any); anything else is no tags.
func tagList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
