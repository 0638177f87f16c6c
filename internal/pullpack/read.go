package pullpack

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"casefile/internal/jsonread"
	"casefile/model"
	"casefile/protocol"

	"github.com/google/uuid"
)

// Read decodes a packed page. Anything that is not one as Append writes
// it — a count or a place beyond what the page holds, a string that is
// not UTF-8, a flag or tag it does not know, bytes after the end — is an
// error, and nothing is decoded: the page comes from the network.
func Read(data []byte) (protocol.PullResponse, error) {
	var p protocol.PullResponse
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return p, fmt.Errorf("not a packed page (it does not begin %q)", magic)
	}
	r := reader{b: data, i: len(magic)}
	p.Cursor = r.count()
	page := r.byte()
	if page&^pageKnown != 0 {
		r.fail("unknown page flags %#x", page)
	}
	p.More = page&pageMore != 0
	p.Head = r.count()
	p.CompactedThrough = r.count()
	p.Total = r.count()
	if n := r.items(2); n > 0 {
		p.Removed = make([]protocol.Removal, n)
		for i := range p.Removed {
			p.Removed[i] = protocol.Removal{ID: r.str(), MatterID: r.str()}
		}
	}
	if n := r.items(1); n > 0 {
		p.DroppedMatters = make([]string, n)
		for i := range p.DroppedMatters {
			p.DroppedMatters[i] = r.str()
		}
	}
	r.table = make([]string, r.items(1))
	for i := range r.table {
		r.table[i] = r.str()
	}
	n := r.items(minRecord)
	if page&pageNoRecords == 0 {
		p.Records = make([]protocol.Record, n)
	} else if n > 0 {
		r.fail("a page without records holds %d", n)
	}
	var seq, secs int64
	for i := range p.Records {
		if r.err != nil {
			break
		}
		r.record(&p.Records[i], &seq, &secs)
	}
	if r.err == nil && r.i != len(r.b) {
		r.fail("%d bytes after the page's end", len(r.b)-r.i)
	}
	if r.err != nil {
		return protocol.PullResponse{}, r.err
	}
	return p, nil
}

// minRecord is the fewest bytes a record takes: its flags, a one-byte
// id's length, collection, matter, version, sequence, author, time (two)
// and fields' count.
const minRecord = 10

type reader struct {
	b     []byte
	i     int
	table []string
	err   error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("packed page, byte %d: %s", r.i, fmt.Sprintf(format, args...))
	}
	r.i = len(r.b)
}

func (r *reader) byte() byte {
	if r.i >= len(r.b) {
		r.fail("%v", errShort)
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) uint() uint64 { return number(r, binary.Uvarint) }
func (r *reader) int() int64   { return number(r, binary.Varint) }

// number reads a varint with read.
func number[T uint64 | int64](r *reader, read func([]byte) (T, int)) T {
	n, k := read(r.b[r.i:])
	if k <= 0 {
		r.fail("a number is cut short or too long")
		return 0
	}
	r.i += k
	return n
}

// count reads a number that must fit an int64.
func (r *reader) count() int64 {
	n := r.uint()
	if n > math.MaxInt64 {
		r.fail("number %d is out of range", n)
		return 0
	}
	return int64(n)
}

// items reads how many items follow, each at least size bytes: no more
// than the page has room for, so that a count cannot make the reader
// allocate what the page does not hold.
func (r *reader) items(size uint64) int {
	n, ok := r.within(size)
	if !ok {
		r.fail("more items of at least %d bytes each than %d bytes hold", size, len(r.b)-r.i)
		return 0
	}
	return n
}

func (r *reader) bytes() []byte {
	n, ok := r.within(1)
	if !ok {
		r.fail("a string longer than the %d bytes left", len(r.b)-r.i)
		return nil
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b
}

// within reads a count of items of size bytes each and says whether the
// page has room for them after it.
func (r *reader) within(size uint64) (int, bool) {
	n := r.uint()
	left := uint64(len(r.b) - r.i) // #nosec G115 -- i never passes len(b)
	if n > left/size {
		return 0, false
	}
	return int(n), true // #nosec G115 -- at most len(b)
}

func (r *reader) str() string {
	b := r.bytes()
	if !utf8.Valid(b) {
		r.fail("a string is not UTF-8")
		return ""
	}
	return string(b)
}

// ref reads a place in the page's table of strings.
func (r *reader) ref() string {
	n := r.uint()
	if n >= uint64(len(r.table)) {
		r.fail("string %d of a table of %d", n, len(r.table))
		return ""
	}
	return r.table[n]
}

// time reads a time written after *secs, and makes it the time before the
// next.
func (r *reader) time(secs *int64) time.Time {
	d := r.int()
	nanos := r.uint()
	s := *secs + d
	if (d > 0 && s < *secs) || (d < 0 && s > *secs) || nanos >= 1e9 {
		r.fail("a time is out of range")
		return time.Time{}
	}
	*secs = s
	t := time.Unix(s, int64(nanos)).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		r.fail("a time is out of range")
		return time.Time{}
	}
	return t
}

func (r *reader) record(rec *protocol.Record, seq, secs *int64) {
	flags := r.byte()
	if flags&^flagsKnown != 0 {
		r.fail("unknown record flags %#x", flags)
		return
	}
	rec.Deleted = flags&flagDeleted != 0
	if flags&flagUUID != 0 {
		if len(r.b)-r.i < 16 {
			r.fail("%v", errShort)
			return
		}
		rec.ID = uuid.UUID(r.b[r.i : r.i+16]).String()
		r.i += 16
	} else {
		rec.ID = r.str()
	}
	rec.Collection = r.ref()
	rec.MatterID = r.ref()
	rec.Version = r.count()
	d := r.int()
	if s := *seq + d; (d > 0 && s < *seq) || (d < 0 && s > *seq) {
		r.fail("a sequence is out of range")
	} else {
		rec.Seq, *seq = s, s
	}
	rec.CreatedBy = r.ref()
	rec.CreatedAt = r.time(secs)
	rec.UpdatedBy, rec.UpdatedAt = rec.CreatedBy, rec.CreatedAt
	if flags&flagSameAuthor == 0 {
		rec.UpdatedBy = r.ref()
	}
	if flags&flagSameTime == 0 {
		after := *secs
		rec.UpdatedAt = r.time(&after)
	}
	if flags&flagFieldsText != 0 {
		rec.Fields = r.fieldsText(r.bytes())
		return
	}
	n := r.items(2)
	rec.Fields = make(model.Fields, n)
	for range n {
		key := r.ref()
		rec.Fields[key] = r.value()
	}
}

// fieldsText decodes fields sent as JSON text, as the JSON form's reader
// decodes a record's fields.
func (r *reader) fieldsText(text []byte) model.Fields {
	if r.err != nil {
		return nil
	}
	var f model.Fields
	d := jsonread.NewReader(text)
	if d.End(jsonread.Map(d, &f)) {
		return f
	}
	f = nil
	if err := json.Unmarshal(text, &f); err != nil {
		r.fail("a record's fields text is not a JSON object")
	}
	return f
}

func (r *reader) value() any {
	switch tag := r.byte(); tag {
	case tagNull:
		return nil
	case tagString:
		return r.str()
	case tagNumber:
		if len(r.b)-r.i < 8 {
			r.fail("%v", errShort)
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
		r.i += 8
		if math.IsNaN(f) || math.IsInf(f, 0) {
			r.fail("a number JSON cannot hold")
			return nil
		}
		return f
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagRef:
		return r.ref()
	case tagStrings:
		list := make([]any, r.items(1))
		for i := range list {
			list[i] = r.str()
		}
		return list
	default:
		r.fail("unknown value tag %d", tag)
		return nil
	}
}
