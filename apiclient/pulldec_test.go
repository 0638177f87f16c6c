package apiclient

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/internal/jsonread/jsonreadtest"
	"casefile/internal/pullpack"
	"casefile/model"
	"casefile/protocol"
)

func jsonPull(data []byte) (protocol.PullResponse, error) {
	return jsonreadtest.Decode[protocol.PullResponse](data)
}

func agree(t *rapid.T, data []byte) bool { return jsonreadtest.Agree(t, data, decodePull) }

// TestDecodePullIsJSONs: whatever decodePull takes, it decodes as
// encoding/json does, and it takes every page json.Marshal writes.
func TestDecodePullIsJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := pageGen().Draw(t, "page")
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !agree(t, data) {
			t.Fatalf("decodePull declined what json.Marshal wrote:\n%q", data)
		}
	})
}

// TestDecodePullWrittenOtherwise: the same pages written the way another
// writer could (keys in any order, space anywhere, characters escaped,
// numbers in other forms, keys it does not know, nulls), and then
// damaged at random: decodePull either agrees with encoding/json or
// declines.
func TestDecodePullWrittenOtherwise(t *testing.T) {
	took, all := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		p := pageGen().Draw(t, "page")
		w := newOtherWriter(t)
		w.page(p)
		data := w.B.Bytes()
		all++
		if jsonreadtest.AndDamaged(t, data, func(d []byte) bool { return agree(t, d) }) && !w.Odd {
			took++
		}
	})
	// Three in four drawn pages are ones decodePull should take; were it
	// to decline everything, the property above would hold vacuously.
	if took*2 < all {
		t.Fatalf("decodePull took %d of %d pages written otherwise", took, all)
	}
}

func TestDecodePullDeclines(t *testing.T) {
	for _, data := range []string{
		``, `null`, `[]`, `{"Records":[]}`, `{"cursor":1,"cursor":2}`,
		`{"cursor":1.0}`, `{"cursor":1e2}`, `{"cursor":9223372036854775808}`,
		`{"records":[null]}`, `{"records":[{"id":1}]}`,
		`{"records":[{"created_at":"2026-13-01T00:00:00Z"}]}`, `{"records":[{"fields":{"a":1e999}}]}`,
		`{"records":[]} x`, `{"records":[]}{}`, `{"records":[],}`, `{"records":[{"id":"a\x01"}]}`,
		`{"records":[{"id":"\u12"}]}`, `{"records":[{"id":"\x"}]}`, `{"unknown":1}`,
		`{"records":[{"fields":{"a":01}}]}`, `{"records":[{"fields":{"a":-}}]}`,
		`{"records":[{"fields":{"a":.5}}]}`, `{"records":[{"fields":{"a":tru}}]}`,
	} {
		if p, ok := decodePull([]byte(data)); ok {
			t.Errorf("decodePull took %q: %#v", data, p)
		}
	}
}

// strictUnmarshal takes the fast path for a pull page and encoding/json's
// for what it declines, with the same answer.
func TestStrictUnmarshalPullPage(t *testing.T) {
	for _, data := range []string{
		`{"records":[{"id":"r1","fields":{"title":"a\nb","n":2}}],"cursor":3,"more":true}`,
		`{"Records":[{"ID":"r1","Fields":{"title":"x"}}],"Cursor":3}`, // json's case-folded keys
	} {
		var got protocol.PullResponse
		if err := strictUnmarshal([]byte(data), &got); err != nil {
			t.Fatalf("strictUnmarshal(%s): %v", data, err)
		}
		want, err := jsonPull([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || got.Cursor != 3 || got.Records[0].ID != "r1" {
			t.Fatalf("strictUnmarshal(%s) = %#v, want %#v", data, got, want)
		}
	}
	var p protocol.PullResponse
	if err := strictUnmarshal([]byte(`{"records":[]} trailing`), &p); err == nil {
		t.Fatal("trailing data was taken")
	}
	// Into a value that is not zero, json merges: what the answer leaves
	// out stays.
	merged := protocol.PushResponse{Cursor: 7}
	if err := strictUnmarshal([]byte(`{"results":[],"head":9}`), &merged); err != nil {
		t.Fatal(err)
	}
	if merged.Cursor != 7 || merged.Head != 9 || merged.Results == nil {
		t.Fatalf("merged answer %+v, want cursor 7 kept, head 9, results empty", merged)
	}
}

// TestDecodePushIsJSONs: decodePush takes every answer json.Marshal
// writes but those with an op's problems, and whatever it takes — those
// answers, answers written otherwise, damaged ones — it decodes as
// encoding/json does.
func TestDecodePushIsJSONs(t *testing.T) {
	took, all := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		p := pushGen().Draw(t, "answer")
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		problems := slices.ContainsFunc(p.Results, func(r protocol.OpResult) bool { return r.Problems != nil })
		if jsonreadtest.Agree(t, data, decodePush) == problems {
			t.Fatalf("decodePush took (or declined) what json.Marshal wrote, problems %v:\n%q", problems, data)
		}
		w := newOtherWriter(t)
		w.pushAnswer(p)
		data = w.B.Bytes()
		all++
		if jsonreadtest.AndDamaged(t, data, func(d []byte) bool { return jsonreadtest.Agree(t, d, decodePush) }) && !w.Odd {
			took++
		}
	})
	if took*3 < all {
		t.Fatalf("decodePush took %d of %d answers written otherwise", took, all)
	}
}

func pushGen() *rapid.Generator[protocol.PushResponse] {
	return rapid.Custom(func(t *rapid.T) protocol.PushResponse {
		str, at := jsonreadtest.String(), jsonreadtest.Time()
		var p protocol.PushResponse
		n := rapid.IntRange(-1, 4).Draw(t, "results")
		if n >= 0 {
			p.Results = []protocol.OpResult{}
		}
		page := pageGen().Draw(t, "records")
		for i := range n {
			r := protocol.OpResult{
				OpID:   str.Draw(t, "op"),
				Result: model.OpResult(rapid.SampledFrom([]string{"applied", "merged", "conflict", "rejected"}).Draw(t, "result")),
			}
			if i < len(page.Records) {
				r.Record = &page.Records[i]
				r.FieldsSent = rapid.Bool().Draw(t, "fieldsSent")
			}
			if rapid.Bool().Draw(t, "conflictFields") {
				r.ConflictFields = rapid.SliceOfN(str, 1, 3).Draw(t, "fields")
			}
			if rapid.Bool().Draw(t, "dropped") {
				r.Dropped = rapid.SliceOfN(str, 1, 3).Draw(t, "droppedFields")
			}
			if rapid.Bool().Draw(t, "message") {
				r.Code, r.Message = protocol.Code(str.Draw(t, "code")), str.Draw(t, "text")
				r.ChangedBy, r.ChangedAt = str.Draw(t, "by"), at.Draw(t, "at")
			}
			if rapid.IntRange(0, 9).Draw(t, "problems") == 0 {
				r.Problems = []model.Problem{{Collection: "note", Field: "title", Message: "required"}}
			}
			p.Results = append(p.Results, r)
		}
		p.Head, p.Cursor = rapid.Int64().Draw(t, "head"), rapid.Int64().Draw(t, "cursor")
		if rapid.Bool().Draw(t, "hasPrior") {
			prior := rapid.Int64().Draw(t, "prior")
			p.Prior = &prior
		}
		return p
	})
}

func (w *otherWriter) pushAnswer(p protocol.PushResponse) {
	m := map[string]func(){
		"head": func() { w.Int(p.Head) },
	}
	if p.Cursor != 0 {
		m["cursor"] = func() { w.Int(p.Cursor) }
	}
	if p.Prior != nil {
		m["prior"] = func() { w.Int(*p.Prior) }
	}
	if p.Results != nil {
		m["results"] = func() { w.Array(len(p.Results), func(i int) { w.result(p.Results[i]) }) }
	}
	w.Object(m)
}

func (w *otherWriter) result(r protocol.OpResult) {
	strs := func(v []string) func() {
		return func() { w.Array(len(v), func(i int) { w.Str(v[i]) }) }
	}
	m := map[string]func(){
		"op_id":  func() { w.Str(r.OpID) },
		"result": func() { w.Str(string(r.Result)) },
	}
	if r.Record != nil {
		m["record"] = func() { w.record(*r.Record) }
	} else if rapid.Bool().Draw(w.T, "nullRecord") {
		m["record"] = func() { w.Null() }
	}
	if r.FieldsSent {
		m["fields_sent"] = func() { w.Bool(true) }
	}
	if r.ConflictFields != nil {
		m["conflict_fields"] = strs(r.ConflictFields)
	}
	if r.Dropped != nil {
		m["dropped"] = strs(r.Dropped)
	}
	if r.Message != "" || r.Code != "" {
		m["code"] = func() { w.Str(string(r.Code)) }
		m["message"] = func() { w.Str(r.Message) }
		m["changed_by"] = func() { w.Str(r.ChangedBy) }
		m["changed_at"] = func() { w.Time(r.ChangedAt) }
	}
	w.Object(m)
}

func pageGen() *rapid.Generator[protocol.PullResponse] {
	return rapid.Custom(func(t *rapid.T) protocol.PullResponse {
		str, at := jsonreadtest.String(), jsonreadtest.Time()
		var p protocol.PullResponse
		n := rapid.IntRange(-1, 4).Draw(t, "records")
		if n >= 0 {
			p.Records = []protocol.Record{}
		}
		for range n {
			r := protocol.Record{
				ID: str.Draw(t, "id"), Collection: str.Draw(t, "collection"), MatterID: str.Draw(t, "matter"),
				Version: rapid.Int64().Draw(t, "version"), Seq: rapid.Int64().Draw(t, "seq"), Deleted: rapid.Bool().Draw(t, "deleted"),
				CreatedBy: str.Draw(t, "createdBy"), CreatedAt: at.Draw(t, "createdAt"),
				UpdatedBy: str.Draw(t, "updatedBy"), UpdatedAt: at.Draw(t, "updatedAt"),
			}
			if rapid.IntRange(0, 9).Draw(t, "nilFields") > 0 {
				r.Fields = model.Fields(rapid.MapOfN(str, jsonreadtest.Value(1, str), 0, 5).Draw(t, "fields"))
			}
			p.Records = append(p.Records, r)
		}
		for range rapid.IntRange(0, 2).Draw(t, "removed") {
			p.Removed = append(p.Removed, protocol.Removal{ID: str.Draw(t, "rid"), MatterID: str.Draw(t, "rmatter")})
		}
		p.DroppedMatters = rapid.SliceOfN(str, 0, 2).Draw(t, "dropped")
		if len(p.DroppedMatters) == 0 {
			p.DroppedMatters = nil
		}
		p.Cursor, p.Head = rapid.Int64().Draw(t, "cursor"), rapid.Int64().Draw(t, "head")
		p.CompactedThrough, p.Total = rapid.Int64().Draw(t, "mark"), rapid.Int64().Draw(t, "total")
		p.More = rapid.Bool().Draw(t, "more")
		return p
	})
}

// otherWriter writes pages and push answers as another JSON writer
// could, and now and then (Odd) what decodePull leaves to encoding/json.
type otherWriter struct{ *jsonreadtest.Writer }

func newOtherWriter(t *rapid.T) *otherWriter {
	return &otherWriter{&jsonreadtest.Writer{T: t, Odd: rapid.IntRange(0, 3).Draw(t, "odd") == 0}}
}

func (w *otherWriter) page(p protocol.PullResponse) {
	m := map[string]func(){
		"cursor":            func() { w.Int(p.Cursor) },
		"head":              func() { w.Int(p.Head) },
		"compacted_through": func() { w.Int(p.CompactedThrough) },
		"total":             func() { w.Int(p.Total) },
		"more":              func() { w.Bool(p.More) },
	}
	if p.Records != nil || rapid.IntRange(0, 20).Draw(w.T, "nullRecords") == 0 {
		m["records"] = func() {
			if p.Records == nil {
				w.Null()
				return
			}
			w.Array(len(p.Records), func(i int) { w.record(p.Records[i]) })
		}
	}
	if p.Removed != nil {
		m["removed"] = func() {
			w.Array(len(p.Removed), func(i int) {
				r := p.Removed[i]
				w.Object(map[string]func(){"id": func() { w.Str(r.ID) }, "matter_id": func() { w.Str(r.MatterID) }})
			})
		}
	}
	if p.DroppedMatters != nil {
		m["dropped_matters"] = func() { w.Array(len(p.DroppedMatters), func(i int) { w.Str(p.DroppedMatters[i]) }) }
	}
	w.Object(m)
}

func (w *otherWriter) record(r protocol.Record) {
	m := map[string]func(){
		"id":         func() { w.Str(r.ID) },
		"collection": func() { w.Str(r.Collection) },
		"matter_id":  func() { w.Str(r.MatterID) },
		"version":    func() { w.Int(r.Version) },
		"seq":        func() { w.Int(r.Seq) },
		"created_by": func() { w.Str(r.CreatedBy) },
		"created_at": func() { w.Time(r.CreatedAt) },
		"updated_by": func() { w.Str(r.UpdatedBy) },
		"updated_at": func() { w.Time(r.UpdatedAt) },
		"fields": func() {
			if r.Fields == nil {
				w.Null()
				return
			}
			w.Value(map[string]any(r.Fields))
		},
	}
	if r.Deleted || rapid.Bool().Draw(w.T, "writeDeleted") {
		m["deleted"] = func() { w.Bool(r.Deleted) }
	}
	w.Object(m)
}

// BenchmarkPullPageDecode decodes a first sync's page of 2,000 notes
// like the sync bench's (docs/benchmarks.md), with encoding/json as
// every page was decoded before decodePull ("json"), and with decodePull
// ("fast").
func BenchmarkPullPageDecode(b *testing.B) {
	words := strings.Fields("met the witness at site office with surveyor she confirmed fence was moved in march " +
		"before survey and neighbour's contractor did work over two days photos of posts old line filed")
	page := protocol.PullResponse{Cursor: 2000, More: true, Head: 100000, Total: 100000}
	at := time.Date(2026, 12, 4, 9, 30, 0, 123456789, time.UTC)
	for i := range 2000 {
		var body strings.Builder
		for j := 0; body.Len() < 450; j++ {
			body.WriteString(words[(i*7+j*13)%len(words)] + " ")
		}
		page.Records = append(page.Records, protocol.Record{
			ID: fmt.Sprintf("0193a4c2-%04x-7abc-8def-0123456789ab", i), Collection: "note", MatterID: "0193a4c2-0000-7abc-8def-0123456789ab",
			Version: 1, Seq: int64(i + 1), CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at,
			Fields: model.Fields{"title": fmt.Sprintf("Site visit %d: fence line and survey", i), "body": body.String(),
				"status": "open", "tags": []any{"site", "witness"}, "matter_id": "0193a4c2-0000-7abc-8def-0123456789ab"},
		})
	}
	data, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	jsonreadtest.Bench(b, data, decodePull)
	// "packed": the same page in the packed form, as its server writes it
	// (internal/pullpack), read by pullpack.Read.
	packed := pullpack.Page{Cursor: page.Cursor, More: page.More, Head: page.Head, Total: page.Total,
		Records: make([]pullpack.Record, len(page.Records))}
	for i, r := range page.Records {
		text, err := json.Marshal(r.Fields)
		if err != nil {
			b.Fatal(err)
		}
		packed.Records[i] = pullpack.Record{ID: r.ID, Collection: r.Collection, MatterID: r.MatterID, Version: r.Version,
			Seq: r.Seq, Deleted: r.Deleted, Fields: text, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
			UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	}
	pdata, err := pullpack.Append(nil, &packed)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("packed", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pdata)))
		for b.Loop() {
			if _, err := pullpack.Read(pdata); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPushAnswerDecode decodes the answer to a batch of 500 new
// notes, each op applied with its record.
func BenchmarkPushAnswerDecode(b *testing.B) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 123456789, time.UTC)
	answer := protocol.PushResponse{Head: 1500, Cursor: 1500}
	for i := range 500 {
		answer.Results = append(answer.Results, protocol.OpResult{
			OpID: fmt.Sprintf("0193a4c2-%04x-7abc-8def-00000000000%d", i, i%10), Result: "applied",
			Record: &protocol.Record{ID: fmt.Sprintf("0193a4c2-%04x-7abc-8def-0123456789ab", i), Collection: "note",
				MatterID: "0193a4c2-0000-7abc-8def-0123456789ab", Version: 1, Seq: int64(1000 + i), CreatedBy: "alice",
				CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at,
				Fields: model.Fields{"title": fmt.Sprintf("Site visit %d: fence line and survey", i),
					"body": strings.Repeat("met the witness at the site office with the surveyor ", 8), "status": "open",
					"tags": []any{"site", "witness"}, "matter_id": "0193a4c2-0000-7abc-8def-0123456789ab"}},
		})
	}
	data, err := json.Marshal(answer)
	if err != nil {
		b.Fatal(err)
	}
	jsonreadtest.Bench(b, data, decodePush)
}
