package server

import (
	"encoding/json"
	"errors"
	"strconv"

	"casefile/internal/fieldtext"
	"casefile/internal/pullpack"
)

// appendPacked appends a in its packed form (protocol.ContentTypePullPacked).
func (a *pullAnswer) appendPacked(b []byte) ([]byte, error) {
	p := pullpack.Page{Removed: a.Removed, DroppedMatters: a.DroppedMatters, Cursor: a.Cursor, More: a.More,
		Head: a.Head, CompactedThrough: a.CompactedThrough, Total: a.Total}
	if a.Records != nil {
		p.Records = make([]pullpack.Record, len(a.Records))
	}
	for i := range a.Records {
		p.Records[i] = pullpack.Record(a.Records[i])
	}
	return pullpack.Append(b, &p)
}

// appendJSON appends a's JSON, byte for byte what json.Marshal writes for
// it, and a newline. json.Marshal spent most of a page's encoding on
// reflection and on scanning each record's fields text again to compact
// it (docs/benchmarks.md, fourteenth round); that text is canonical
// (fieldtext.Canonical, the store's test) or json.Marshal's own
// (pulledRecords), so it goes out as it is.
func (a *pullAnswer) appendJSON(b []byte) ([]byte, error) {
	if a.Records == nil {
		b = append(b, `{"records":null`...)
	} else {
		var err error
		if b, err = a.appendRecords(append(b, `{"records":`...)); err != nil {
			return nil, err
		}
	}
	if len(a.Removed) > 0 {
		r, err := json.Marshal(a.Removed)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"removed":`...), r...)
	}
	if len(a.DroppedMatters) > 0 {
		d, err := json.Marshal(a.DroppedMatters)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"dropped_matters":`...), d...)
	}
	b = strconv.AppendInt(append(b, `,"cursor":`...), a.Cursor, 10)
	b = strconv.AppendBool(append(b, `,"more":`...), a.More)
	b = strconv.AppendInt(append(b, `,"head":`...), a.Head, 10)
	b = strconv.AppendInt(append(b, `,"compacted_through":`...), a.CompactedThrough, 10)
	b = strconv.AppendInt(append(b, `,"total":`...), a.Total, 10)
	return append(b, "}\n"...), nil
}

func (a *pullAnswer) appendRecords(b []byte) ([]byte, error) {
	b = append(b, '[')
	for i := range a.Records {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = a.Records[i].appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func (r *pulledRecord) appendJSON(b []byte) ([]byte, error) {
	if len(r.Fields) == 0 {
		return nil, errors.New("record " + r.ID + " has no fields text")
	}
	b = append(append(r.appendHead(b), `,"fields":`...), r.Fields...)
	return r.appendTail(b)
}

// appendHead opens a record's JSON and writes what comes before its
// fields; appendTail writes what comes after them and closes it. Between
// them the fields go as text (a pull) or encoded (a push's answer).
func (r *pulledRecord) appendHead(b []byte) []byte {
	b = fieldtext.AppendString(append(b, `{"id":`...), r.ID)
	b = fieldtext.AppendString(append(b, `,"collection":`...), r.Collection)
	b = fieldtext.AppendString(append(b, `,"matter_id":`...), r.MatterID)
	b = strconv.AppendInt(append(b, `,"version":`...), r.Version, 10)
	b = strconv.AppendInt(append(b, `,"seq":`...), r.Seq, 10)
	if r.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	return b
}

func (r *pulledRecord) appendTail(b []byte) ([]byte, error) {
	b = fieldtext.AppendString(append(b, `,"created_by":`...), r.CreatedBy)
	b, err := fieldtext.AppendTime(append(b, `,"created_at":`...), r.CreatedAt)
	if err != nil {
		return nil, err
	}
	b = fieldtext.AppendString(append(b, `,"updated_by":`...), r.UpdatedBy)
	if b, err = fieldtext.AppendTime(append(b, `,"updated_at":`...), r.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
