package pullpack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"casefile/internal/pullpack"
	"casefile/protocol"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// wireRecord and wirePage are the JSON form of a page, key for key as the
// server writes it (server.pullAnswer, whose bytes are json.Marshal's:
// server's TestPullAnswerIsJSONs). The client decodes them as
// encoding/json does (apiclient's TestDecodePullIsJSONs), so decoding
// them with encoding/json is what a client of the JSON form gets.
type wireRecord struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	MatterID   string          `json:"matter_id"`
	Version    int64           `json:"version"`
	Seq        int64           `json:"seq"`
	Deleted    bool            `json:"deleted,omitempty"`
	Fields     json.RawMessage `json:"fields"`
	CreatedBy  string          `json:"created_by"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedBy  string          `json:"updated_by"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

type wirePage struct {
	Records          []wireRecord       `json:"records"`
	Removed          []protocol.Removal `json:"removed,omitempty"`
	DroppedMatters   []string           `json:"dropped_matters,omitempty"`
	Cursor           int64              `json:"cursor"`
	More             bool               `json:"more"`
	Head             int64              `json:"head"`
	CompactedThrough int64              `json:"compacted_through"`
	Total            int64              `json:"total"`
}

func jsonForm(p *pullpack.Page) wirePage {
	w := wirePage{Removed: p.Removed, DroppedMatters: p.DroppedMatters, Cursor: p.Cursor, More: p.More,
		Head: p.Head, CompactedThrough: p.CompactedThrough, Total: p.Total}
	if p.Records != nil {
		w.Records = make([]wireRecord, len(p.Records))
	}
	for i, r := range p.Records {
		w.Records[i] = wireRecord{ID: r.ID, Collection: r.Collection, MatterID: r.MatterID, Version: r.Version,
			Seq: r.Seq, Deleted: r.Deleted, Fields: r.Fields, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
			UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	}
	return w
}

// viaJSON is what a client of the JSON form decodes from p.
func viaJSON(t interface{ Fatalf(string, ...any) }, p *pullpack.Page) protocol.PullResponse {
	b, err := json.Marshal(jsonForm(p))
	if err != nil {
		t.Fatalf("json form: %v", err)
	}
	var out protocol.PullResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode the json form: %v", err)
	}
	return out
}

// TestPackedIsJSONs: for any page, the packed form decodes to exactly
// what the JSON form decodes to — ids that are UUIDs and ids that are
// not, strings that are not UTF-8, fields of every value a record can
// hold and of shapes the tags cannot (nested objects, mixed lists: sent
// as text), keys given twice, times anywhere in JSON's range.
func TestPackedIsJSONs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := drawPage(rt)
		b, err := pullpack.Append(nil, &p)
		if err != nil {
			rt.Fatalf("append: %v", err)
		}
		got, err := pullpack.Read(b)
		if err != nil {
			rt.Fatalf("read: %v", err)
		}
		if want := viaJSON(rt, &p); !reflect.DeepEqual(got, want) {
			rt.Fatalf("packed and JSON differ:\npacked %#v\njson   %#v", got, want)
		}
	})
}

// TestPackedNoteIsSmall: a note of the bench's shape (~500 bytes of
// fields) packs in under two thirds of its JSON, and under 600 bytes.
func TestPackedNoteIsSmall(t *testing.T) {
	p := notesPage(500)
	packed, err := pullpack.Append(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(jsonForm(&p))
	if err != nil {
		t.Fatal(err)
	}
	perPacked, perJSON := len(packed)/len(p.Records), len(plain)/len(p.Records)
	t.Logf("bytes a note: packed %d, JSON %d", perPacked, perJSON)
	if perPacked*3 > perJSON*2 || perPacked >= 600 {
		t.Fatalf("a note packs in %d bytes, its JSON %d", perPacked, perJSON)
	}
	got, err := pullpack.Read(packed)
	if err != nil {
		t.Fatal(err)
	}
	if want := viaJSON(t, &p); !reflect.DeepEqual(got, want) {
		t.Fatal("the notes' packed page decodes differently from their JSON")
	}
}

// TestReadRefusesWhatAppendDoesNotWrite: a page cut anywhere, a byte
// changed where the layout leaves no choice, bytes after the end, a count
// beyond the page: each is an error, never a panic or a partial page.
func TestReadRefusesWhatAppendDoesNotWrite(t *testing.T) {
	p := notesPage(3)
	b, err := pullpack.Append(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := pullpack.Read(b[:n]); err == nil {
			t.Fatalf("a page cut to %d of its %d bytes was read", n, len(b))
		}
	}
	if _, err := pullpack.Read(append(bytes.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "after the page's end") {
		t.Fatalf("a page with a byte after its end: %v", err)
	}
	huge := []byte("CFp1\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f")
	if _, err := pullpack.Read(huge); err == nil || !strings.Contains(err.Error(), "items") {
		t.Fatalf("a page counting 2^32 records in no bytes: %v", err)
	}
	if _, err := pullpack.Read([]byte(`{"records":[]}`)); err == nil {
		t.Fatal("a JSON page was read as a packed one")
	}
	bad := []struct {
		name string
		page []byte
	}{
		{"unknown page flags", []byte("CFp1\x00\x80\x00\x00\x00\x00\x00\x00\x00")},
		{"a string that is not UTF-8", []byte("CFp1\x00\x00\x00\x00\x00\x00\x01\x02\xff\xfe\x00\x00")},
		{"a reference past the table", []byte("CFp1\x00\x00\x00\x00\x00\x00\x00\x00\x01\x0d\x01a\x05\x06\x01\x02\x07\x00\x00\x00\x00\x00")},
	}
	for _, c := range bad {
		if _, err := pullpack.Read(c.page); err == nil {
			t.Errorf("%s: read", c.name)
		}
	}
}

// FuzzRead: whatever the bytes, Read answers an error or a page, and a
// page it answers packs and reads back to itself.
func FuzzRead(f *testing.F) {
	p := notesPage(2)
	b, err := pullpack.Append(nil, &p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("CFp1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := pullpack.Read(data)
		if err != nil {
			return
		}
		again := pageOf(t, got)
		b, err := pullpack.Append(nil, &again)
		if err != nil {
			return // a page the writer would send as JSON (a negative version)
		}
		back, err := pullpack.Read(b)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("a page read did not pack and read back to itself: %v", err)
		}
	})
}

// pageOf is a decoded page as a server would hold it.
func pageOf(t *testing.T, p protocol.PullResponse) pullpack.Page {
	out := pullpack.Page{Removed: p.Removed, DroppedMatters: p.DroppedMatters, Cursor: p.Cursor, More: p.More,
		Head: p.Head, CompactedThrough: p.CompactedThrough, Total: p.Total}
	if p.Records != nil {
		out.Records = make([]pullpack.Record, len(p.Records))
	}
	for i, r := range p.Records {
		text, err := json.Marshal(r.Fields)
		if err != nil {
			t.Fatal(err)
		}
		out.Records[i] = pullpack.Record{ID: r.ID, Collection: r.Collection, MatterID: r.MatterID, Version: r.Version,
			Seq: r.Seq, Deleted: r.Deleted, Fields: text, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
			UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	}
	return out
}

// notesPage is a page of n notes of the bench's shape.
func notesPage(n int) pullpack.Page {
	matter := uuid.NewString()
	user := uuid.NewString()
	at := time.Date(2026, 12, 5, 9, 0, 0, 123456789, time.UTC)
	p := pullpack.Page{Records: make([]pullpack.Record, n), Cursor: int64(1000 + n), Head: int64(1000 + n), Total: int64(n)}
	body := strings.Repeat("Met the witness at the site office with the surveyor. ", 8)[:420]
	for i := range p.Records {
		fields, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("Site visit %d: fence line and survey", i),
			"body": body, "status": "open", "tags": []string{"site", "witness"}, "matter_id": matter})
		at = at.Add(time.Duration(i) * 37 * time.Microsecond)
		p.Records[i] = pullpack.Record{ID: uuid.NewString(), Collection: "note", MatterID: matter, Version: 1,
			Seq: int64(1001 + i), Fields: fields, CreatedBy: user, CreatedAt: at, UpdatedBy: user, UpdatedAt: at}
	}
	return p
}

func drawPage(t *rapid.T) pullpack.Page {
	str := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"note", "matter", "u1", "", "a\x00b", "é"}),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
	id := rapid.OneOf(
		rapid.Custom(func(t *rapid.T) string {
			return uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "uuid")).String()
		}),
		rapid.Custom(func(t *rapid.T) string {
			return strings.ToUpper(uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "uuid")).String())
		}),
		str)
	names := rapid.SampledFrom([]string{"title", "body", "status", "tags", "due", "Title", "n"})
	when := rapid.Custom(func(t *rapid.T) time.Time {
		// JSON's range: years 0 to 9999.
		return time.Unix(rapid.Int64Range(-62167219200, 253402300799).Draw(t, "secs"),
			rapid.Int64Range(0, 999999999).Draw(t, "nanos")).UTC()
	})
	p := pullpack.Page{
		Cursor: rapid.Int64Min(0).Draw(t, "cursor"), More: rapid.Bool().Draw(t, "more"),
		Head: rapid.Int64Min(0).Draw(t, "head"), CompactedThrough: rapid.Int64Min(0).Draw(t, "mark"),
		Total: rapid.Int64Min(0).Draw(t, "total"),
	}
	if rapid.IntRange(0, 9).Draw(t, "records nil") > 0 {
		p.Records = []pullpack.Record{}
	}
	for range rapid.IntRange(0, 3).Draw(t, "removed") {
		p.Removed = append(p.Removed, protocol.Removal{ID: id.Draw(t, "removed id"), MatterID: str.Draw(t, "removed matter")})
	}
	for range rapid.IntRange(0, 2).Draw(t, "dropped") {
		p.DroppedMatters = append(p.DroppedMatters, str.Draw(t, "dropped"))
	}
	if p.Records == nil {
		return p
	}
	seq := rapid.Int64Range(0, 1<<40).Draw(t, "first seq")
	for range rapid.IntRange(0, 6).Draw(t, "records") {
		seq += rapid.Int64Range(-3, 1<<20).Draw(t, "seq step") // in order, or not
		seq = max(seq, 0)
		created := when.Draw(t, "created")
		r := pullpack.Record{ID: id.Draw(t, "id"), Collection: str.Draw(t, "collection"), MatterID: str.Draw(t, "matter"),
			Version: rapid.Int64Range(0, math.MaxInt64).Draw(t, "version"), Seq: seq,
			Deleted: rapid.Bool().Draw(t, "deleted"), Fields: drawFields(t, names, str),
			CreatedBy: str.Draw(t, "created by"), CreatedAt: created, UpdatedBy: str.Draw(t, "updated by"),
			UpdatedAt: created}
		if rapid.Bool().Draw(t, "same author") {
			r.UpdatedBy = r.CreatedBy
		}
		if rapid.Bool().Draw(t, "edited") {
			r.UpdatedAt = when.Draw(t, "updated")
		}
		p.Records = append(p.Records, r)
	}
	return p
}

// drawFields draws a record's fields text: the values a record holds,
// shapes it does not, keys twice, and spacing.
func drawFields(t *rapid.T, names *rapid.Generator[string], str *rapid.Generator[string]) []byte {
	value := rapid.OneOf(
		rapid.Just[any](nil),
		rapid.Map(str, func(s string) any { return s }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.SliceOf(str), func(l []string) any { return l }),
		rapid.Just[any]([]any{"a", 1.5}),
		rapid.Just[any](map[string]any{"x": []any{}}),
	)
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range rapid.IntRange(0, 5).Draw(t, "fields") {
		if i > 0 {
			b.WriteByte(',')
		}
		if rapid.IntRange(0, 5).Draw(t, "space") == 0 {
			b.WriteString(" \n\t")
		}
		k, _ := json.Marshal(names.Draw(t, "name"))
		v, err := json.Marshal(value.Draw(t, "value"))
		if err != nil { // NaN or an infinity: JSON has none
			v = []byte("0")
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// TestFormsFollowTheProtocol: Record and Page have the fields of
// protocol.Record and protocol.PullResponse, in their order (the server
// converts its JSON form's records to Record), so that a field added to
// the protocol cannot go missing from the packed form unnoticed.
func TestFormsFollowTheProtocol(t *testing.T) {
	names := func(t reflect.Type) []string {
		var out []string
		for i := range t.NumField() {
			out = append(out, t.Field(i).Name)
		}
		return out
	}
	for _, c := range []struct{ packed, proto reflect.Type }{
		{reflect.TypeFor[pullpack.Record](), reflect.TypeFor[protocol.Record]()},
		{reflect.TypeFor[pullpack.Page](), reflect.TypeFor[protocol.PullResponse]()},
	} {
		if got, want := names(c.packed), names(c.proto); !reflect.DeepEqual(got, want) {
			t.Errorf("%s fields %q, %s fields %q", c.packed, got, c.proto, want)
		}
	}
}

// TestAppendRefusesWhatItCannotCarry: a page with a negative count or
// version, a time outside JSON's years or not in UTC, or a record without
// fields text is an error (the server then sends the page as JSON), not
// a page that reads back as something else.
func TestAppendRefusesWhatItCannotCarry(t *testing.T) {
	for name, spoil := range map[string]func(p *pullpack.Page){
		"negative cursor":  func(p *pullpack.Page) { p.Cursor = -1 },
		"negative total":   func(p *pullpack.Page) { p.Total = -1 },
		"negative version": func(p *pullpack.Page) { p.Records[1].Version = -1 },
		"negative seq":     func(p *pullpack.Page) { p.Records[1].Seq = -1 },
		"year 10000":       func(p *pullpack.Page) { p.Records[1].UpdatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"not UTC": func(p *pullpack.Page) {
			p.Records[1].CreatedAt = p.Records[1].CreatedAt.In(time.FixedZone("CET", 3600))
		},
		"no fields text": func(p *pullpack.Page) { p.Records[1].Fields = nil },
	} {
		p := notesPage(2)
		spoil(&p)
		if b, err := pullpack.Append(nil, &p); err == nil {
			t.Errorf("%s: appended %d bytes", name, len(b))
		}
	}
}
