package sqlstore

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"

	"casefile/internal/fieldtext/fieldtexttest"
	"casefile/model"
	"casefile/server/store"
)

// marshalRow is what json.Marshal writes for a record's three JSON columns:
// an absent map as {}, each change's time to the microsecond.
func marshalRow(r store.Record) (fields, versions, changes string, err error) {
	f, v, c := r.Fields, r.FieldVersions, map[string]store.FieldChange{}
	if f == nil {
		f = model.Fields{}
	}
	if v == nil {
		v = map[string]int64{}
	}
	for name, ch := range r.FieldChanges {
		c[name] = store.FieldChange{By: ch.By, At: ch.At.Truncate(1000).UTC()}
	}
	var out [3][]byte
	for i, x := range []any{f, v, c} {
		if out[i], err = json.Marshal(x); err != nil {
			return "", "", "", err
		}
	}
	return string(out[0]), string(out[1]), string(out[2]), nil
}

// TestRecordRowIsJSONs: the fields, field versions and field changes a
// record's row holds are what json.Marshal writes for them, byte for
// byte: fields of every kind with every escape, nil maps, changes by
// anyone at any time (in a zone, with nanoseconds the row drops), and a
// record json.Marshal cannot write fails to be put.
func TestRecordRowIsJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var r store.Record
		r.Fields = fieldtexttest.Object(0).Draw(t, "fields")
		if rapid.IntRange(0, 9).Draw(t, "nilVersions") > 0 {
			r.FieldVersions = rapid.MapOfN(fieldtexttest.String(), rapid.Int64(), 0, 6).Draw(t, "versions")
		}
		if rapid.IntRange(0, 4).Draw(t, "nilChanges") > 0 {
			r.FieldChanges = map[string]store.FieldChange{}
			for range rapid.IntRange(0, 5).Draw(t, "changes") {
				r.FieldChanges[fieldtexttest.String().Draw(t, "field")] = store.FieldChange{
					By: fieldtexttest.String().Draw(t, "by"), At: fieldtexttest.Time().Draw(t, "at")}
			}
		}
		wf, wv, wc, wantErr := marshalRow(r)
		f, v, c, err := encodeRecordJSON(r)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("encodeRecordJSON: %v; json.Marshal: %v", err, wantErr)
		}
		if err == nil && (f != wf || v != wv || c != wc) {
			t.Fatalf("encodeRecordJSON wrote\n%q\n%q\n%q\njson.Marshal\n%q\n%q\n%q", f, v, c, wf, wv, wc)
		}
	})
}
