// Package pullpack writes and reads a pull page in its packed form
// (protocol.ContentTypePullPacked): the same page as the JSON one, in
// about two thirds of the bytes. A page names each collection, matter,
// user and field once, in a table of strings, and its records by their
// place in it; an id is its 16 bytes, a sequence and a time the difference
// from the record before, and a field's value its bytes with their length.
// What is left is the fields' own text, so a note of ~500 bytes of fields
// travels in ~536 bytes plain where its JSON takes ~865
// (docs/benchmarks.md, twentieth round; the layout is in docs/protocol.md).
//
// Read decodes a page into exactly the protocol.PullResponse that
// decoding the JSON page of the same answer gives (TestPackedIsJSONs), so
// nothing after the decoder knows which form came.
package pullpack

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"casefile/internal/jsonread"
	"casefile/protocol"

	"github.com/google/uuid"
)

// magic opens a packed page; the digit is the layout's version.
const magic = "CFp1"

// A page's flags.
const (
	pageMore      = 1 << iota // more: true
	pageNoRecords             // records: null, not []
	pageKnown     = pageMore | pageNoRecords
)

// A record's flags.
const (
	flagDeleted    = 1 << iota
	flagUUID       // the id is 16 bytes, to be written as a canonical UUID
	flagSameAuthor // updated_by is created_by
	flagSameTime   // updated_at is created_at
	flagFieldsText // the fields are JSON text (a shape the values below cannot hold)
	flagsKnown     = flagDeleted | flagUUID | flagSameAuthor | flagSameTime | flagFieldsText
)

// A value's tags.
const (
	tagNull = iota
	tagString
	tagNumber
	tagFalse
	tagTrue
	tagStrings // a list of strings
	tagRef     // a string of the page's table (a matter's id in a record's matter_id field)
)

// Record is a record as a server holds it for a page: its fields as JSON
// text (an object), the store's own.
type Record struct {
	ID         string
	Collection string
	MatterID   string
	Version    int64
	Seq        int64
	Deleted    bool
	Fields     json.RawMessage
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedBy  string
	UpdatedAt  time.Time
}

// Page is a pull's answer with its records as Record.
type Page struct {
	Records          []Record
	Removed          []protocol.Removal
	DroppedMatters   []string
	Cursor           int64
	More             bool
	Head             int64
	CompactedThrough int64
	Total            int64
}

// Append appends p packed to b. It fails for what the packed form cannot
// carry — a negative cursor, head, mark, total, version or sequence, a
// time outside the years 0–9999 or not in UTC, a record without fields
// text — and the server then sends the page as JSON.
func Append(b []byte, p *Page) ([]byte, error) {
	if p.Cursor < 0 || p.Head < 0 || p.CompactedThrough < 0 || p.Total < 0 {
		return nil, fmt.Errorf("packed page: a negative cursor, head, mark or total (%d, %d, %d, %d)",
			p.Cursor, p.Head, p.CompactedThrough, p.Total)
	}
	w := writer{b: append(b, magic...)}
	w.uint(uint64(p.Cursor))
	var page byte
	if p.More {
		page |= pageMore
	}
	if p.Records == nil {
		page |= pageNoRecords
	}
	w.b = append(w.b, page)
	w.uint(uint64(p.Head))
	w.uint(uint64(p.CompactedThrough))
	w.uint(uint64(p.Total))
	w.uint(uint64(len(p.Removed)))
	for _, r := range p.Removed {
		w.str(r.ID)
		w.str(r.MatterID)
	}
	w.uint(uint64(len(p.DroppedMatters)))
	for _, m := range p.DroppedMatters {
		w.str(m)
	}
	// The records go to a buffer of their own, so that the table of the
	// strings they name can go before them.
	recs := writer{b: make([]byte, 0, pageSize(p.Records)), index: map[string]uint64{}}
	recs.uint(uint64(len(p.Records)))
	var seq, secs int64
	for i := range p.Records {
		if err := recs.record(&p.Records[i], &seq, &secs); err != nil {
			return nil, err
		}
	}
	w.uint(uint64(len(recs.table)))
	for _, s := range recs.table {
		w.str(s)
	}
	return append(w.b, recs.b...), nil
}

// pageSize estimates a page's packed size: its fields text and some 40
// bytes of the rest a record.
func pageSize(recs []Record) int {
	n := 16
	for i := range recs {
		n += len(recs[i].Fields) + 40
	}
	return n
}

type writer struct {
	b     []byte
	index map[string]uint64 // a string's place in table
	table []string
	// scratch holds a record's fields while they are counted; list a
	// list's strings.
	scratch []byte
	list    [][]byte
}

func (w *writer) uint(n uint64) { w.b = binary.AppendUvarint(w.b, n) }
func (w *writer) int(n int64)   { w.b = binary.AppendVarint(w.b, n) }

// str writes s with its length, as encoding/json would write it: a byte
// that is not UTF-8 becomes U+FFFD.
func (w *writer) str(s string) {
	if !utf8.ValidString(s) {
		s = asJSON(s)
	}
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// bytes writes a string read from JSON text (so UTF-8) with its length.
func (w *writer) bytes(s []byte) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// refBytes is ref for a key read from JSON text (so UTF-8).
func (w *writer) refBytes(s []byte) {
	i, ok := w.index[string(s)]
	if !ok {
		i = uint64(len(w.table))
		w.index[string(s)] = i
		w.table = append(w.table, string(s))
	}
	w.uint(i)
}

// ref writes s's place in the page's table, adding it the first time.
func (w *writer) ref(s string) {
	if !utf8.ValidString(s) {
		s = asJSON(s)
	}
	i, ok := w.index[s]
	if !ok {
		i = uint64(len(w.table))
		w.index[s] = i
		w.table = append(w.table, s)
	}
	w.uint(i)
}

// time writes t as whole seconds after *secs (the time before it) and
// nanoseconds, and makes it the time before the next.
func (w *writer) time(t time.Time, secs *int64) {
	s := t.Unix()
	w.int(s - *secs)
	w.uint(uint64(t.Nanosecond())) // #nosec G115 -- 0 to 999,999,999
	*secs = s
}

func (w *writer) record(r *Record, seq, secs *int64) error {
	if r.Seq < 0 || r.Version < 0 {
		return fmt.Errorf("packed page: record %s has a negative version or sequence", r.ID)
	}
	if err := jsonTime(r.CreatedAt, r.UpdatedAt); err != nil {
		return fmt.Errorf("packed page: record %s: %w", r.ID, err)
	}
	var flags byte
	if r.Deleted {
		flags |= flagDeleted
	}
	id, isUUID := canonicalUUID(r.ID)
	if isUUID {
		flags |= flagUUID
	}
	if r.UpdatedBy == r.CreatedBy {
		flags |= flagSameAuthor
	}
	if r.UpdatedAt.Equal(r.CreatedAt) {
		flags |= flagSameTime
	}
	at := len(w.b)
	w.b = append(w.b, flags)
	if isUUID {
		w.b = append(w.b, id[:]...)
	} else {
		w.str(r.ID)
	}
	w.ref(r.Collection)
	w.ref(r.MatterID)
	w.uint(uint64(r.Version))
	w.int(r.Seq - *seq)
	*seq = r.Seq
	w.ref(r.CreatedBy)
	w.time(r.CreatedAt, secs)
	if flags&flagSameAuthor == 0 {
		w.ref(r.UpdatedBy)
	}
	if flags&flagSameTime == 0 {
		after := *secs
		w.time(r.UpdatedAt, &after)
	}
	if !w.fields(r.Fields) {
		// A shape the tags cannot hold (an object in a field, a list of
		// other than strings): the text goes as it is, and the reader
		// decodes it as the JSON form's reader would.
		w.b[at] |= flagFieldsText
		if len(r.Fields) == 0 {
			return fmt.Errorf("packed page: record %s has no fields text", r.ID)
		}
		w.uint(uint64(len(r.Fields)))
		w.b = append(w.b, r.Fields...)
	}
	return nil
}

// jsonTime fails for a time the JSON form fails for (a year outside
// [0,9999]) and for one not in UTC, whose zone the packed form does not
// carry. The server writes its times in UTC.
func jsonTime(ts ...time.Time) error {
	for _, t := range ts {
		if y := t.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("time %v has a year outside [0,9999]", t)
		}
		if _, off := t.Zone(); off != 0 {
			return fmt.Errorf("time %v is not in UTC", t)
		}
	}
	return nil
}

// fields writes the members of an object's JSON text, and answers false,
// having written nothing, when the text is not an object of the values
// the tags hold. It walks the text rather than decoding it: a string
// written as it is goes from the text to the page.
func (w *writer) fields(text []byte) bool {
	d := jsonread.NewReader(text)
	outer := w.b
	w.b = w.scratch[:0]
	n := uint64(0)
	ok := d.Peek() == '{' && d.Object(func(key []byte) bool {
		n++
		w.refBytes(key)
		return w.value(d)
	})
	members := w.b
	w.b, w.scratch = outer, members
	if !d.End(ok) {
		return false
	}
	w.uint(n)
	w.b = append(w.b, members...)
	return true
}

// value writes the value d is at, and answers false for one the tags do
// not hold (an object, a list of other than strings) or text that is not
// JSON.
func (w *writer) value(d *jsonread.Reader) bool {
	switch c := d.Peek(); {
	case c == '"':
		s, ok := d.StrBytes()
		if i, named := w.index[string(s)]; named {
			w.b = append(w.b, tagRef)
			w.uint(i)
			return ok
		}
		w.b = append(w.b, tagString)
		w.bytes(s)
		return ok
	case c == 'n':
		w.b = append(w.b, tagNull)
		return d.Null()
	case c == 't' || c == 'f':
		var v bool
		ok := d.Bool(&v)
		if v {
			w.b = append(w.b, tagTrue)
		} else {
			w.b = append(w.b, tagFalse)
		}
		return ok
	case c == '-' || '0' <= c && c <= '9':
		var f float64
		ok := d.Float(&f)
		w.b = append(w.b, tagNumber)
		w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(f))
		return ok
	case c == '[':
		// The count goes first: the strings are found, then written.
		w.list = w.list[:0]
		ok := d.Array(func() bool {
			if d.Peek() != '"' {
				return false
			}
			s, ok := d.StrBytes()
			w.list = append(w.list, s)
			return ok
		})
		w.b = append(w.b, tagStrings)
		w.uint(uint64(len(w.list)))
		for _, s := range w.list {
			w.bytes(s)
		}
		return ok
	}
	return false
}

// canonicalUUID answers id's 16 bytes when id is a UUID written as
// uuid.UUID.String writes one, so that the reader writes it back the same:
// of the forms uuid.Parse takes, 36 characters in lower case.
func canonicalUUID(id string) (uuid.UUID, bool) {
	if len(id) != 36 || strings.ContainsAny(id, "ABCDEF") {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(id)
	return u, err == nil
}

// asJSON is s as encoding/json writes it: each byte that is not part of
// a UTF-8 sequence becomes U+FFFD.
func asJSON(s string) string {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return string(out)
}

// errShort is a page that ends before what it says is in it.
var errShort = errors.New("packed page ends early")
