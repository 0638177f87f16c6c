package localdb

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"casefile/internal/fieldtext"
	"casefile/model"
)

// encodeFields writes fields as a JSON object, as json.Marshal writes it
// (fieldtext.AppendObject, without reflection); nil is "{}".
func encodeFields(f model.Fields) (string, error) {
	if f == nil {
		return "{}", nil
	}
	b, err := fieldtext.AppendObject(make([]byte, 0, 512), f)
	if err != nil {
		return "", fmt.Errorf("encode fields: %w", err)
	}
	return string(b), nil
}

// encodeNullable writes fields as JSON, or SQL NULL for nil.
func encodeNullable(f model.Fields) (any, error) {
	if f == nil {
		return nil, nil
	}
	return encodeFields(f)
}

// decodeFields reads a JSON object of field values in their normalised Go
// form: numbers as float64, tag lists as []string. NULL or "" is nil.
func decodeFields(s sql.NullString) (model.Fields, error) {
	if !s.Valid || s.String == "" || s.String == "null" {
		return nil, nil
	}
	var f model.Fields
	if err := json.Unmarshal([]byte(s.String), &f); err != nil {
		return nil, fmt.Errorf("decode fields: %w", err)
	}
	if f == nil {
		f = model.Fields{}
	}
	for k, v := range f {
		if list, ok := v.([]any); ok {
			tags := make([]string, 0, len(list))
			for _, e := range list {
				if s, ok := e.(string); ok {
					tags = append(tags, s)
				}
			}
			f[k] = tags
		}
	}
	return f, nil
}

// normalizeWire brings a server record's fields to their normalised form;
// fields this client's schema does not know are kept as they came.
func normalizeWire(col *model.Collection, in model.Fields) model.Fields {
	out := make(model.Fields, len(in))
	for k, v := range in {
		if col != nil {
			if f, ok := col.Field(k); ok {
				if nv, err := f.Normalize(v); err == nil {
					v = nv
				}
			}
		}
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// overlay applies changes on top of fields: nil clears a field.
func overlay(fields, changes model.Fields) model.Fields {
	if fields == nil {
		fields = model.Fields{}
	}
	for k, v := range changes {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	return fields
}

// searchReadsBack reports whether fields, normalised from the wire, give
// the full-text entry they give once stored and read back (decodeFields):
// every searchable value is absent, text in valid UTF-8 or a list of such
// text, which JSON keeps exactly. A value the schema did not accept is
// kept as it came and may read back otherwise (a number reformatted, a
// list of mixed values filtered, invalid UTF-8 replaced).
func searchReadsBack(col *model.Collection, fields model.Fields) bool {
	if col == nil {
		return true
	}
	for i := range col.Fields {
		f := &col.Fields[i]
		if !f.Searchable() {
			continue
		}
		switch v := fields[f.Name].(type) {
		case nil:
		case string:
			if !utf8.ValidString(v) {
				return false
			}
		case []string:
			for _, s := range v {
				if !utf8.ValidString(s) {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// searchText is the text FTS indexes for a record: its searchable fields.
func searchText(col *model.Collection, fields model.Fields) string {
	if col == nil {
		return ""
	}
	var b strings.Builder
	for i := range col.Fields {
		f := &col.Fields[i]
		if !f.Searchable() {
			continue
		}
		if s := model.Format(fields[f.Name]); s != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// ftsQuery turns text a person typed into an FTS5 query that matches every
// word as a prefix ("filter as you type"). Words are quoted, so quotes,
// operators and column filters in the input are only ever text. It returns
// "" when the text holds no word.
func ftsQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Mn, r)
	})
	if len(words) > 16 {
		words = words[:16]
	}
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"*`
	}
	return strings.Join(q, " ")
}

// recordRow is one row of records as stored.
type recordRow struct {
	rid         int64
	id          string
	collection  string
	matterID    string
	fields      model.Fields
	base        model.Fields // nil until the server has the record
	baseSame    bool         // base_fields holds baseSame: base is fields as stored
	baseJSON    string       // base as stored (the fields' text when baseSame); "" when NULL
	version     int64
	baseDeleted bool
	deleted     bool
	state       model.SyncState
	updatedAt   int64
	fieldsJSON  string
}

// recordCols are the columns of records as stored: what a copy writes,
// and the first columns recordSelect reads.
const recordCols = "rid, id, collection, matter_id, fields, base_fields, version, base_deleted, deleted, state, updated_at"

// entryRef in fields says a record's values are those its create's journal
// entry holds (after): entryRef and the entry's seq. A new record keeps one
// copy of its values, as its create op does (outbox.fields_entry), until a
// write gives it others. The journal is append-only, so the entry outlives
// every use of the reference. It is neither JSON nor sealed text (which
// begins with its version byte), so it cannot be mistaken for either, and
// a write that sets fields replaces it with no further step.
const entryRef = "@"

// recordSelect is what scanRecordRow reads of records aliased alias (""
// for none): recordCols, then, for a record whose fields are its journal
// entry's (entryRef), that entry's after and the op, kind and time its
// place names. Subqueries rather than a join keep the callers' WHERE
// clauses on records' own columns unambiguous.
func recordSelect(alias string) string {
	cols := strings.Split(recordCols, ", ")
	for i, c := range cols {
		cols[i] = alias + c
	}
	ref := entryRefSeq(alias + "fields")
	return strings.Join(cols, ", ") + `,
	(SELECT j.after FROM journal j WHERE j.seq = ` + ref + `),
	(SELECT j.op_id || '|' || j.kind || '|' || j.at FROM journal j WHERE j.seq = ` + ref + `)`
}

// entryRefSeq is an SQL expression of the journal seq a fields column
// refers to (entryRef), NULL when it holds the values themselves.
func entryRefSeq(fields string) string {
	return "CASE WHEN substr(" + fields + ", 1, 1) = '" + entryRef + "' THEN CAST(substr(" + fields + ", 2) AS INTEGER) END"
}

// recordsSelect is recordSelect of records unaliased.
var recordsSelect = recordSelect("")

// errNoRecordEntry: a record, or a journal entry, refers to a journal
// entry for its values and the journal does not hold it.
var errNoRecordEntry = errors.New("the journal entry holding the record's values is missing")

// baseSame in base_fields says the server's copy of a record is its fields
// as stored, text for text: a synced record keeps one copy of its values
// (in an encrypted database, one sealed copy), not two. It is neither JSON
// nor sealed text, so it cannot be mistaken for either. A write that
// changes fields and not the base writes the base out first (writeRow).
const baseSame = "="

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func (db *DB) scanRecord(s rowScanner) (recordRow, error) {
	return db.scanRecordRow(s, true)
}

// scanRecordRow is scanRecord; without decode it leaves fields and base
// nil, for a caller that needs only fieldsJSON. Both are still opened and
// checked, so that a value that fails its seal or does not decode fails
// the read as before: canonical text decodes, other text is decoded.
func (db *DB) scanRecordRow(s rowScanner, decode bool) (recordRow, error) {
	return db.scanRecordKnown(s, decode, nil)
}

// errEntryNotRead: scanRecordKnown met a record whose values are a
// journal entry it was not given.
var errEntryNotRead = errors.New("the record's values are a journal entry not read")

// scanRecordKnown is scanRecordRow of a select that, with known, reads
// NULL in place of the entry's after and place: a record whose values are
// an entry in known takes its text, already opened; one whose entry is
// not in known fails with errEntryNotRead (and its id), to be read again
// in full.
func (db *DB) scanRecordKnown(s rowScanner, decode bool, known map[int64]string) (recordRow, error) {
	var r recordRow
	var fields, base, entryAfter, entryPlace sql.NullString
	if err := s.Scan(&r.rid, &r.id, &r.collection, &r.matterID, &fields, &base, &r.version,
		&r.baseDeleted, &r.deleted, &r.state, &r.updatedAt, &entryAfter, &entryPlace); err != nil {
		return r, err
	}
	var err error
	if fields.Valid && strings.HasPrefix(fields.String, entryRef) {
		if known == nil {
			fields, err = db.openRecordEntry(&r, entryAfter, entryPlace)
		} else if seq, perr := strconv.ParseInt(fields.String[len(entryRef):], 10, 64); perr != nil {
			return r, fmt.Errorf("record %s: its values refer to %q, not a journal entry", r.id, fields.String)
		} else if text, ok := known[seq]; ok {
			fields = sql.NullString{String: text, Valid: true}
		} else {
			return r, errEntryNotRead
		}
	} else {
		fields, err = db.openText(fields, recordPlace("fields", r.collection, r.id))
	}
	if err != nil {
		return r, err
	}
	if base.Valid && base.String == baseSame {
		r.baseSame, base = true, fields
	} else if base, err = db.openText(base, recordPlace("base_fields", r.collection, r.id)); err != nil {
		return r, err
	}
	r.fieldsJSON, r.baseJSON = fields.String, base.String
	if !decode {
		checks := []sql.NullString{fields, base}
		if r.baseSame {
			checks = checks[:1]
		}
		for _, text := range checks {
			if !canonicalFields(text.String) {
				if _, err := decodeFields(text); err != nil {
					return r, err
				}
			}
		}
		return r, nil
	}
	if r.fields, err = decodeFields(fields); err != nil {
		return r, err
	}
	if r.fields == nil {
		r.fields = model.Fields{}
	}
	if r.base, err = decodeFields(base); err != nil {
		return r, err
	}
	if base.Valid && r.base == nil {
		r.base = model.Fields{}
	}
	return r, nil
}

// openRecordEntry opens a record's values held by its create's journal
// entry: after as the entry holds it, and entryPlace the entry's op, kind
// and time ("op|kind|at"), both NULL when the journal has no such entry.
// The place is built from the record's own collection and id, so an entry
// of another record fails to open like a value moved from another row.
func (db *DB) openRecordEntry(r *recordRow, after, entryPlace sql.NullString) (sql.NullString, error) {
	text, err := db.openEntryOf(r.collection, r.id, after, entryPlace)
	if err != nil {
		return text, fmt.Errorf("record %s: %w", r.id, err)
	}
	return text, nil
}

// openEntryOf opens the after of a journal entry of the record id of
// collection that another row refers to (entryRef): after as the entry
// holds it, and entryPlace the op, kind and time of the entry
// ("op|kind|at"), both NULL when the journal has no such entry. The
// place is built from the record's identity, so an entry of another
// record fails to open like a value moved from another row.
func (db *DB) openEntryOf(collection, id string, after, entryPlace sql.NullString) (sql.NullString, error) {
	if !entryPlace.Valid || !after.Valid {
		return sql.NullString{}, errNoRecordEntry
	}
	parts := strings.Split(entryPlace.String, "|")
	var at int64
	var err error
	if len(parts) == 3 {
		at, err = strconv.ParseInt(parts[2], 10, 64)
	}
	if len(parts) != 3 || err != nil {
		return sql.NullString{}, fmt.Errorf("the journal entry holding its values has no op, kind and time (%q)", entryPlace.String)
	}
	e := JournalEntry{Collection: collection, RecordID: id, OpID: parts[0], Kind: JournalKind(parts[1])}
	return db.openText(after, journalPlace("after", &e, at))
}

// record is the row as callers see it.
func (r recordRow) record() model.Record {
	return model.Record{
		ID:         r.id,
		Collection: r.collection,
		Version:    r.version,
		State:      r.state,
		Deleted:    r.deleted,
		Fields:     r.fields,
		UpdatedAt:  fromNanos(r.updatedAt),
	}
}

// encodeJSON writes any value as JSON text.
func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}

// sortedNames returns a set's members in order.
func sortedNames(set map[string]bool) []string {
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
