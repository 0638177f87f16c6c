package server

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

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
	b = appendString(append(b, `{"id":`...), r.ID)
	b = appendString(append(b, `,"collection":`...), r.Collection)
	b = appendString(append(b, `,"matter_id":`...), r.MatterID)
	b = strconv.AppendInt(append(b, `,"version":`...), r.Version, 10)
	b = strconv.AppendInt(append(b, `,"seq":`...), r.Seq, 10)
	if r.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	b = append(append(b, `,"fields":`...), r.Fields...)
	b = appendString(append(b, `,"created_by":`...), r.CreatedBy)
	b, err := appendTime(append(b, `,"created_at":`...), r.CreatedAt)
	if err != nil {
		return nil, err
	}
	b = appendString(append(b, `,"updated_by":`...), r.UpdatedBy)
	if b, err = appendTime(append(b, `,"updated_at":`...), r.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendString appends s as encoding/json quotes it: plain printable
// ASCII as it is, anything else (escapes, HTML's <, > and &, other
// characters, invalid UTF-8) through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON writes it, failing as it
// does for a year it cannot write.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errors.New("time " + t.String() + " has a year outside [0,9999]")
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
