package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Fields maps field names to values. A value is a string (text, longtext,
// date, datetime, enum, ref), a float64 (number), a bool or a []string
// (tags); nil means the field is empty.
type Fields map[string]any

// Clone returns a copy that shares no slices with f.
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	out := make(Fields, len(f))
	for k, v := range f {
		if tags, ok := v.([]string); ok {
			v = slices.Clone(tags)
		}
		out[k] = v
	}
	return out
}

// Problem is one thing wrong with a record, named by its field.
type Problem struct {
	Collection string      `json:"collection"`
	Field      string      `json:"field,omitempty"`
	Message    string      `json:"message"`
	Kind       ProblemKind `json:"kind,omitempty"`
}

// ProblemKind sorts problems by what the schema says of the field, so that
// a client whose schema differs can tell a field it does not know from a
// value it got wrong.
type ProblemKind string

// The kinds of problem.
const (
	ProblemUnknownField ProblemKind = "unknown_field" // the collection has no such field
	ProblemRequired     ProblemKind = "required"      // a required field is missing or emptied
	ProblemInvalid      ProblemKind = "invalid"       // the value breaks the field's type or bounds
	ProblemFixed        ProblemKind = "fixed"         // an edit of a field that keeps the value the record was made with
)

func (p Problem) String() string {
	if p.Field == "" {
		return p.Collection + ": " + p.Message
	}
	return p.Collection + "." + p.Field + ": " + p.Message
}

// Problems is every problem found in one record. It is an error when non-empty.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Err returns ps as an error, or nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// ValidID reports whether s is a UUID in canonical lower-case form.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// NewID returns a new time-ordered record or op id (UUIDv7).
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Validate checks fields against the collection and returns them normalised
// (JSON numbers as float64, tag lists as []string, times in RFC 3339) with
// every problem found. With full set, fields is a whole record and required
// fields must be present; otherwise it is a change and only the fields it
// names are checked.
func (c *Collection) Validate(fields Fields, full bool) (Fields, Problems) {
	probs := boundedProblems{collection: c.Name}
	out := make(Fields, len(fields))
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		f, ok := c.Field(name)
		if !ok {
			probs.add(Problem{Collection: c.Name, Field: clip(name, MaxProblemField), Kind: ProblemUnknownField}, func() string {
				return "no such field (fields: " + strings.Join(c.FieldNames(), ", ") + ")"
			})
			continue
		}
		v, err := f.Normalize(fields[name])
		if err != nil {
			probs.add(Problem{Collection: c.Name, Field: name, Kind: ProblemInvalid, Message: err.Error()}, nil)
			continue
		}
		if v == nil && f.Required {
			probs.add(Problem{Collection: c.Name, Field: name, Kind: ProblemRequired, Message: "is required and cannot be empty"}, nil)
			continue
		}
		out[name] = v
	}
	if full {
		for _, f := range c.Fields {
			if f.Required && fields[f.Name] == nil {
				if _, reported := out[f.Name]; !reported && !hasProblem(probs.list, f.Name) {
					probs.add(Problem{Collection: c.Name, Field: f.Name, Kind: ProblemRequired, Message: "is required"}, nil)
				}
			}
		}
		for k, v := range out {
			if v == nil {
				delete(out, k)
			}
		}
	}
	return out, probs.done()
}

// FixedProblems lists the edits in changes (normalised, as Validate
// returns them) of fixed fields to a value other than cur's, the record's
// fields now: a fixed field keeps the value the record was made with.
func (c *Collection) FixedProblems(cur, changes Fields) Problems {
	var probs Problems
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		if f, ok := c.Field(name); ok && f.Fixed && !Equal(cur[name], changes[name]) {
			msg := "is fixed when the record is made; make a new record instead"
			if c.Name == AttachmentCollection {
				msg = "comes from the file's bytes; to change the file, detach it and attach the new one"
			}
			probs = append(probs, Problem{Collection: c.Name, Field: name, Kind: ProblemFixed, Message: msg})
		}
	}
	return probs
}

// MaxProblems is how many problems Validate lists for one record; past it
// they are counted in a last problem of their own. A record sent with a
// million unknown fields is then told so in a few hundred bytes, not in
// an answer (and a ledger entry) of hundreds of megabytes.
const MaxProblems = 20

// MaxProblemField is how many bytes of an unknown field's name a problem
// repeats.
const MaxProblemField = 64

// boundedProblems collects at most MaxProblems problems and counts the rest.
type boundedProblems struct {
	collection string
	list       Problems
	more       int
}

// add lists p, its message made by message when that is not nil (so
// that a problem past the bound costs nothing to describe).
func (b *boundedProblems) add(p Problem, message func() string) {
	if len(b.list) >= MaxProblems {
		b.more++
		return
	}
	if message != nil {
		p.Message = message()
	}
	b.list = append(b.list, p)
}

func (b *boundedProblems) done() Problems {
	if b.more > 0 {
		b.list = append(b.list, Problem{Collection: b.collection, Message: fmt.Sprintf("and %d more problem(s)", b.more)})
	}
	return b.list
}

// clip returns s cut to at most n bytes at a character's start, marked
// with "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func hasProblem(ps Problems, field string) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Field == field })
}

// Normalize checks one value (as decoded from JSON, or already normalised)
// and returns its canonical form. An empty string or empty list is nil.
func (f *Field) Normalize(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case TypeText, TypeLongText, TypeEnum, TypeRef, TypeDate, TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string, not %s", jsonKind(v))
		}
		if s == "" {
			return nil, nil
		}
		return f.normalizeString(s)
	case TypeNumber:
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case int:
			n = float64(x)
		case int64:
			n = float64(x)
		case json.Number:
			if err := exactInteger(x.String()); err != nil {
				return nil, err
			}
			var err error
			if n, err = x.Float64(); err != nil {
				return nil, fmt.Errorf("not a valid number: %q", x.String())
			}
		default:
			return nil, fmt.Errorf("must be a number, not %s", jsonKind(v))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("must be a finite number")
		}
		if math.Abs(n) > MaxExactNumber {
			return nil, errNumberTooLarge
		}
		if f.Min != nil && n < *f.Min {
			return nil, fmt.Errorf("must be at least %s", formatNumber(*f.Min))
		}
		if f.Max != nil && n > *f.Max {
			return nil, fmt.Errorf("must be at most %s", formatNumber(*f.Max))
		}
		return n, nil
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("must be true or false, not %s", jsonKind(v))
		}
		return b, nil
	case TypeTags:
		var in []string
		switch x := v.(type) {
		case []string:
			in = x
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("must be a list of strings, found %s", jsonKind(e))
				}
				in = append(in, s)
			}
		default:
			return nil, fmt.Errorf("must be a list of strings, not %s", jsonKind(v))
		}
		var out []string
		for _, t := range in {
			t = strings.TrimSpace(t)
			if t == "" || slices.Contains(out, t) {
				continue
			}
			if !utf8.ValidString(t) {
				return nil, fmt.Errorf("a tag is not valid UTF-8")
			}
			if utf8.RuneCountInString(t) > MaxTagLen {
				return nil, fmt.Errorf("a tag is longer than %d characters", MaxTagLen)
			}
			if strings.ContainsAny(t, "\n\r\t") {
				return nil, fmt.Errorf("a tag cannot contain line breaks or tabs")
			}
			out = append(out, t)
		}
		if len(out) > MaxTags {
			return nil, fmt.Errorf("has more than %d tags", MaxTags)
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("has unknown type %q", f.Type)
}

func (f *Field) normalizeString(s string) (any, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("is not valid UTF-8")
	}
	limit := MaxTextLen
	if f.Type == TypeLongText {
		limit = MaxLongTextLen
	}
	if utf8.RuneCountInString(s) > limit {
		return nil, fmt.Errorf("is longer than %d characters", limit)
	}
	switch f.Type {
	case TypeText:
		if strings.ContainsAny(s, "\n\r") {
			return nil, fmt.Errorf("is one line and cannot contain line breaks")
		}
	case TypeEnum:
		if !slices.Contains(f.Values, s) {
			return nil, fmt.Errorf("%q is not one of: %s", s, strings.Join(f.Values, ", "))
		}
	case TypeRef:
		if !ValidID(s) {
			return nil, fmt.Errorf("not a valid %s id: %q", f.Ref, s)
		}
	case TypeDate:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, fmt.Errorf("not a valid date (YYYY-MM-DD): %q", s)
		}
		return t.Format(time.DateOnly), nil
	case TypeDateTime:
		t, err := ParseDateTime(s)
		if err != nil {
			return nil, err
		}
		// One instant, one spelling: stored and compared in UTC, so the
		// same moment written with two offsets is the same value.
		return t.UTC().Format(time.RFC3339), nil
	}
	return s, nil
}

// ParseDateTime reads a stored or sent instant: RFC 3339, or the ISO
// forms without a zone ("YYYY-MM-DD HH:MM"), read in UTC — never in the
// zone of the machine that happens to read it. A person's input is read
// in their own zone by ParseWhen before it gets here.
func ParseDateTime(s string) (time.Time, error) {
	t, ok := parseISO(s, time.UTC)
	if !ok || len(s) == len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("not a valid date/time: %q (use 2026-12-15T09:30:00Z, or with an offset like +01:00)", s)
	}
	return t, nil
}

// sameInstant reports whether a and b are both RFC 3339 instants naming
// the same moment.
func sameInstant(a, b string) bool {
	ta, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return false
	}
	tb, err := time.Parse(time.RFC3339Nano, b)
	return err == nil && ta.Equal(tb)
}

// ParseInput reads a value typed by a person (the CLI's field=value) into
// the field's JSON form, ready for Normalize. An empty string clears.
func (f *Field) ParseInput(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	switch f.Type {
	case TypeNumber:
		if f.Unit == UnitMinutes {
			return ParseMinutes(s)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("not a number: %q", s)
		}
		if err := exactInteger(strings.TrimSpace(s)); err != nil {
			return nil, err
		}
		return n, nil
	case TypeBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "y", "1", "on":
			return true, nil
		case "false", "no", "n", "0", "off":
			return false, nil
		}
		return nil, fmt.Errorf("not true or false: %q", s)
	case TypeTags:
		return strings.Split(s, ","), nil
	case TypeDateTime:
		// Without a zone: this computer's. ParseInputAt reads it in the
		// person's configured zone instead.
		if t, ok := parseISO(strings.TrimSpace(s), time.Local); ok {
			return t.UTC().Format(time.RFC3339), nil
		}
	}
	return s, nil
}

// ParseInputAt reads a value typed by a person as ParseInput does, but a
// date and time the way people type them (ParseWhen: "tomorrow 14:00",
// "15/12 9:30", "9:30am"), read in the person's zone and date order and
// returned as an RFC 3339 instant in UTC.
func (f *Field) ParseInputAt(s string, in Input) (any, error) {
	if f.Type != TypeDateTime || strings.TrimSpace(s) == "" {
		return f.ParseInput(s)
	}
	t, err := ParseWhen(s, in)
	if err != nil {
		return nil, err
	}
	return t.UTC().Format(time.RFC3339), nil
}

// Format renders a value for people: tags joined by ", ", numbers without
// a needless decimal part, booleans as yes/no, empty as "".
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return formatNumber(x)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []string:
		return strings.Join(x, ", ")
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = Format(e)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprint(v)
}

func formatNumber(n float64) string {
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// Equal reports whether two normalised values are the same. Two RFC 3339
// instants are the same when they name the same moment, whatever their
// offsets (values stored before datetimes were kept in UTC have them).
func Equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			return sa == sb || sameInstant(sa, sb)
		}
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64, int, int64, json.Number:
		return "a number"
	case bool:
		return "true/false"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// MaxExactNumber is the largest magnitude a number field holds: 2^53 − 1.
// A float64 (and every JSON reader that uses one) holds every whole number
// up to it, and none past it for sure: 9007199254740993 reads as
// 9007199254740992, so 2^53 itself may be another number rounded.
const MaxExactNumber = 1<<53 - 1

var errNumberTooLarge = fmt.Errorf("must be between -%d and %d: larger numbers cannot be kept exactly", int64(MaxExactNumber), int64(MaxExactNumber))

// exactInteger refuses a whole number written out (digits, no point or
// exponent) that a float64 would change: one past MaxExactNumber.
func exactInteger(s string) error {
	digits := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), "0")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil // zero, or not a whole number written out
	}
	if len(digits) > 16 {
		return errNumberTooLarge
	}
	if v, err := strconv.ParseInt(digits, 10, 64); err != nil || v > MaxExactNumber {
		return errNumberTooLarge
	}
	return nil
}
