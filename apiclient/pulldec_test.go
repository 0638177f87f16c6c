package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"

	"casefile/model"
	"casefile/protocol"
)

// jsonDecode is what encoding/json makes of data, as strictUnmarshal
// decoded every answer before decodePull and decodePush.
func jsonDecode[T any](data []byte) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return v, err
	}
	if dec.More() {
		return v, fmt.Errorf("trailing data")
	}
	if _, err := dec.Token(); err == nil {
		return v, fmt.Errorf("trailing data")
	}
	return v, nil
}

func jsonPull(data []byte) (protocol.PullResponse, error) {
	return jsonDecode[protocol.PullResponse](data)
}

// agreeWith checks a decoder against encoding/json on data: when fast
// takes it, json takes it too and makes the same of it. It reports
// whether fast took it.
func agreeWith[T any](t *rapid.T, data []byte, fast func([]byte) (T, bool)) bool {
	got, ok := fast(data)
	want, err := jsonDecode[T](data)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the decoder took what encoding/json refuses (%v):\n%q", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the decoder and encoding/json differ on\n%q\ndecoder: %#v\njson:    %#v", data, got, want)
	}
	return true
}

func agree(t *rapid.T, data []byte) bool { return agreeWith(t, data, decodePull) }

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
		w := &otherWriter{t: t, odd: rapid.IntRange(0, 3).Draw(t, "odd") == 0}
		w.page(p)
		data := w.b.Bytes()
		all++
		if agree(t, data) && !w.odd {
			took++
		}
		for range rapid.IntRange(0, 3).Draw(t, "damages") {
			data = damage(t, data)
			agree(t, data)
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
	deep := `{"records":[{"fields":{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}}]}`
	if _, ok := decodePull([]byte(deep)); ok {
		t.Errorf("decodePull took a value nested deeper than %d", maxDepth)
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
		if agreeWith(t, data, decodePush) == problems {
			t.Fatalf("decodePush took (or declined) what json.Marshal wrote, problems %v:\n%q", problems, data)
		}
		w := &otherWriter{t: t, odd: rapid.IntRange(0, 3).Draw(t, "odd") == 0}
		w.pushAnswer(p)
		data = w.b.Bytes()
		all++
		if agreeWith(t, data, decodePush) && !w.odd {
			took++
		}
		for range rapid.IntRange(0, 3).Draw(t, "damages") {
			data = damage(t, data)
			agreeWith(t, data, decodePush)
		}
	})
	if took*3 < all {
		t.Fatalf("decodePush took %d of %d answers written otherwise", took, all)
	}
}

func pushGen() *rapid.Generator[protocol.PushResponse] {
	return rapid.Custom(func(t *rapid.T) protocol.PushResponse {
		var p protocol.PushResponse
		n := rapid.IntRange(-1, 4).Draw(t, "results")
		if n >= 0 {
			p.Results = []protocol.OpResult{}
		}
		page := pageGen().Draw(t, "records")
		for i := range n {
			r := protocol.OpResult{
				OpID:   stringGen().Draw(t, "op"),
				Result: model.OpResult(rapid.SampledFrom([]string{"applied", "merged", "conflict", "rejected"}).Draw(t, "result")),
			}
			if i < len(page.Records) {
				r.Record = &page.Records[i]
			}
			if rapid.Bool().Draw(t, "conflictFields") {
				r.ConflictFields = rapid.SliceOfN(stringGen(), 1, 3).Draw(t, "fields")
			}
			if rapid.Bool().Draw(t, "dropped") {
				r.Dropped = rapid.SliceOfN(stringGen(), 1, 3).Draw(t, "droppedFields")
			}
			if rapid.Bool().Draw(t, "message") {
				r.Code, r.Message = protocol.Code(stringGen().Draw(t, "code")), stringGen().Draw(t, "text")
				r.ChangedBy, r.ChangedAt = stringGen().Draw(t, "by"), timeGen().Draw(t, "at")
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
		"head": func() { w.int(p.Head) },
	}
	if p.Cursor != 0 {
		m["cursor"] = func() { w.int(p.Cursor) }
	}
	if p.Prior != nil {
		m["prior"] = func() { w.int(*p.Prior) }
	}
	if p.Results != nil {
		m["results"] = func() { w.array(len(p.Results), func(i int) { w.result(p.Results[i]) }) }
	}
	w.object(m)
}

func (w *otherWriter) result(r protocol.OpResult) {
	strs := func(v []string) func() {
		return func() { w.array(len(v), func(i int) { w.str(v[i]) }) }
	}
	m := map[string]func(){
		"op_id":  func() { w.str(r.OpID) },
		"result": func() { w.str(string(r.Result)) },
	}
	if r.Record != nil {
		m["record"] = func() { w.record(*r.Record) }
	} else if rapid.Bool().Draw(w.t, "nullRecord") {
		m["record"] = func() { w.b.WriteString("null") }
	}
	if r.ConflictFields != nil {
		m["conflict_fields"] = strs(r.ConflictFields)
	}
	if r.Dropped != nil {
		m["dropped"] = strs(r.Dropped)
	}
	if r.Message != "" || r.Code != "" {
		m["code"] = func() { w.str(string(r.Code)) }
		m["message"] = func() { w.str(r.Message) }
		m["changed_by"] = func() { w.str(r.ChangedBy) }
		m["changed_at"] = func() { w.time(r.ChangedAt) }
	}
	w.object(m)
}

func stringGen() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[a-z0-9 -]{0,12}`),
		rapid.String(),
		rapid.Custom(func(t *rapid.T) string { // bytes that are not UTF-8, escapes json writes, HTML
			parts := rapid.SliceOfN(rapid.SampledFrom([]string{
				"a", "é", "\xff", "\xe2\x80", "\n", "\t", "\"", "\\", "<", ">", "&", "\u2028", "\u2029", "\x00", "\x1f", "\x7f", "😀", "\ufffd",
			}), 0, 8).Draw(t, "parts")
			return strings.Join(parts, "")
		}),
	)
}

func valueGen(depth int) *rapid.Generator[any] {
	leaves := []*rapid.Generator[any]{
		rapid.Map(stringGen(), func(s string) any { return s }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.Int64(), func(i int64) any { return float64(i) }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Just[any](nil),
	}
	if depth >= 3 {
		return rapid.OneOf(leaves...)
	}
	return rapid.OneOf(append(leaves,
		rapid.Map(rapid.SliceOfN(valueGen(depth+1), 0, 3), func(a []any) any { return a }),
		rapid.Map(rapid.MapOfN(stringGen(), valueGen(depth+1), 0, 3), func(m map[string]any) any { return m }),
	)...)
}

func timeGen() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		sec := rapid.Int64Range(-62135596800, 253402300799-86400).Draw(t, "sec") // years 1 to 9999
		nsec := rapid.SampledFrom([]int64{0, 1, 500000000, rapid.Int64Range(0, 999999999).Draw(t, "ns")}).Draw(t, "nsec")
		zone := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}).Draw(t, "zone")
		return time.Unix(sec, nsec).In(zone)
	})
}

func pageGen() *rapid.Generator[protocol.PullResponse] {
	return rapid.Custom(func(t *rapid.T) protocol.PullResponse {
		var p protocol.PullResponse
		n := rapid.IntRange(-1, 4).Draw(t, "records")
		if n >= 0 {
			p.Records = []protocol.Record{}
		}
		for range n {
			r := protocol.Record{
				ID: stringGen().Draw(t, "id"), Collection: stringGen().Draw(t, "collection"), MatterID: stringGen().Draw(t, "matter"),
				Version: rapid.Int64().Draw(t, "version"), Seq: rapid.Int64().Draw(t, "seq"), Deleted: rapid.Bool().Draw(t, "deleted"),
				CreatedBy: stringGen().Draw(t, "createdBy"), CreatedAt: timeGen().Draw(t, "createdAt"),
				UpdatedBy: stringGen().Draw(t, "updatedBy"), UpdatedAt: timeGen().Draw(t, "updatedAt"),
			}
			if rapid.IntRange(0, 9).Draw(t, "nilFields") > 0 {
				r.Fields = model.Fields(rapid.MapOfN(stringGen(), valueGen(1), 0, 5).Draw(t, "fields"))
			}
			p.Records = append(p.Records, r)
		}
		for range rapid.IntRange(0, 2).Draw(t, "removed") {
			p.Removed = append(p.Removed, protocol.Removal{ID: stringGen().Draw(t, "rid"), MatterID: stringGen().Draw(t, "rmatter")})
		}
		p.DroppedMatters = rapid.SliceOfN(stringGen(), 0, 2).Draw(t, "dropped")
		if len(p.DroppedMatters) == 0 {
			p.DroppedMatters = nil
		}
		p.Cursor, p.Head = rapid.Int64().Draw(t, "cursor"), rapid.Int64().Draw(t, "head")
		p.CompactedThrough, p.Total = rapid.Int64().Draw(t, "mark"), rapid.Int64().Draw(t, "total")
		p.More = rapid.Bool().Draw(t, "more")
		return p
	})
}

// otherWriter writes a page as another JSON writer could: keys in any
// order, space anywhere, any character escaped, numbers in other forms,
// and now and then a key decodePull does not know or a null.
type otherWriter struct {
	t *rapid.T
	b bytes.Buffer
	// odd: it also writes what decodePull leaves to encoding/json (a
	// key it does not know, in another case or given twice, an integer
	// with a fraction).
	odd bool
}

func (w *otherWriter) space() {
	w.b.WriteString(rapid.SampledFrom([]string{"", "", "", " ", "\n\t", "\r\n  "}).Draw(w.t, "space"))
}

func (w *otherWriter) str(s string) {
	w.b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			w.b.WriteString(rapid.SampledFrom([]string{`\ufffd`, "\ufffd", "\xff", `\ud800`, `\udc00x`}).Draw(w.t, "bad"))
		case r == '"' || r == '\\' || r < 0x20 || rapid.IntRange(0, 15).Draw(w.t, "escape") == 0:
			switch {
			case r == '\n' && rapid.Bool().Draw(w.t, "short"):
				w.b.WriteString(`\n`)
			case r == '/' || r == '"' || r == '\\':
				w.b.WriteString(`\` + string(r))
			case r > 0xffff:
				r1, r2 := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
				fmt.Fprintf(&w.b, `\u%04x\u%04X`, r1, r2)
			default:
				fmt.Fprintf(&w.b, `\u%04x`, r)
			}
		default:
			w.b.WriteRune(r)
		}
	}
	w.b.WriteByte('"')
}

func (w *otherWriter) num(f float64) {
	switch rapid.IntRange(0, 3).Draw(w.t, "form") {
	case 0:
		w.b.WriteString(strconv.FormatFloat(f, 'e', -1, 64))
	case 1:
		w.b.WriteString(strings.Replace(strconv.FormatFloat(f, 'E', -1, 64), "E+", "E", 1))
	default:
		w.b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
}

func (w *otherWriter) int(i int64) {
	if w.odd && rapid.IntRange(0, 20).Draw(w.t, "intForm") == 0 {
		w.b.WriteString(strconv.FormatInt(i, 10) + ".0") // json refuses it for an int64
		return
	}
	w.b.WriteString(strconv.FormatInt(i, 10))
}

// object writes members in a drawn order, each by its func.
func (w *otherWriter) object(members map[string]func()) {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keys = rapid.Permutation(keys).Draw(w.t, "order")
	switch extra := rapid.IntRange(0, 30).Draw(w.t, "extra"); {
	case !w.odd:
	case extra == 0:
		keys = append(keys, "Unknown")
		members["Unknown"] = func() { w.b.WriteString(`{"x":[1,"y"]}`) }
	case extra == 1:
		if len(keys) > 0 {
			keys = append(keys, keys[0]) // a key twice
		}
	}
	w.space()
	w.b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.space()
			w.b.WriteByte(',')
		}
		w.space()
		if w.odd && rapid.IntRange(0, 40).Draw(w.t, "upper") == 0 {
			w.str(strings.ToUpper(k))
		} else {
			w.str(k)
		}
		w.space()
		w.b.WriteByte(':')
		w.space()
		members[k]()
		w.space()
	}
	w.b.WriteByte('}')
}

func (w *otherWriter) array(n int, elem func(i int)) {
	w.b.WriteByte('[')
	for i := range n {
		if i > 0 {
			w.space()
			w.b.WriteByte(',')
		}
		w.space()
		elem(i)
	}
	w.space()
	w.b.WriteByte(']')
}

func (w *otherWriter) value(v any) {
	switch v := v.(type) {
	case nil:
		w.b.WriteString("null")
	case bool:
		w.b.WriteString(strconv.FormatBool(v))
	case float64:
		w.num(v)
	case string:
		w.str(v)
	case []any:
		w.array(len(v), func(i int) { w.value(v[i]) })
	case map[string]any:
		m := map[string]func(){}
		for k, x := range v {
			m[k] = func() { w.value(x) }
		}
		w.object(m)
	default:
		w.t.Fatalf("value of type %T", v)
	}
}

func (w *otherWriter) time(t time.Time) {
	b, err := t.MarshalJSON()
	if err != nil {
		w.t.Fatal(err)
	}
	w.b.Write(b)
}

func (w *otherWriter) page(p protocol.PullResponse) {
	m := map[string]func(){
		"cursor":            func() { w.int(p.Cursor) },
		"head":              func() { w.int(p.Head) },
		"compacted_through": func() { w.int(p.CompactedThrough) },
		"total":             func() { w.int(p.Total) },
		"more":              func() { w.b.WriteString(strconv.FormatBool(p.More)) },
	}
	if p.Records != nil || rapid.IntRange(0, 20).Draw(w.t, "nullRecords") == 0 {
		m["records"] = func() {
			if p.Records == nil {
				w.b.WriteString("null")
				return
			}
			w.array(len(p.Records), func(i int) { w.record(p.Records[i]) })
		}
	}
	if p.Removed != nil {
		m["removed"] = func() {
			w.array(len(p.Removed), func(i int) {
				r := p.Removed[i]
				w.object(map[string]func(){"id": func() { w.str(r.ID) }, "matter_id": func() { w.str(r.MatterID) }})
			})
		}
	}
	if p.DroppedMatters != nil {
		m["dropped_matters"] = func() { w.array(len(p.DroppedMatters), func(i int) { w.str(p.DroppedMatters[i]) }) }
	}
	w.object(m)
}

func (w *otherWriter) record(r protocol.Record) {
	m := map[string]func(){
		"id":         func() { w.str(r.ID) },
		"collection": func() { w.str(r.Collection) },
		"matter_id":  func() { w.str(r.MatterID) },
		"version":    func() { w.int(r.Version) },
		"seq":        func() { w.int(r.Seq) },
		"created_by": func() { w.str(r.CreatedBy) },
		"created_at": func() { w.time(r.CreatedAt) },
		"updated_by": func() { w.str(r.UpdatedBy) },
		"updated_at": func() { w.time(r.UpdatedAt) },
		"fields": func() {
			if r.Fields == nil {
				w.b.WriteString("null")
				return
			}
			w.value(map[string]any(r.Fields))
		},
	}
	if r.Deleted || rapid.Bool().Draw(w.t, "writeDeleted") {
		m["deleted"] = func() { w.b.WriteString(strconv.FormatBool(r.Deleted)) }
	}
	w.object(m)
}

// damage changes data at a drawn place: a byte dropped, doubled,
// replaced or inserted.
func damage(t *rapid.T, data []byte) []byte {
	if len(data) == 0 {
		return []byte("{")
	}
	i := rapid.IntRange(0, len(data)-1).Draw(t, "at")
	c := rapid.SampledFrom([]byte(`{}[]":,\ 0-.eE+tfnu"`+"\x00\xff\x1f")).Draw(t, "byte")
	out := append([]byte(nil), data[:i]...)
	switch rapid.IntRange(0, 3).Draw(t, "how") {
	case 0:
		out = append(out, data[i+1:]...)
	case 1:
		out = append(append(out, data[i]), data[i:]...)
	case 2:
		out = append(append(out, c), data[i+1:]...)
	default:
		out = append(append(out, c), data[i:]...)
	}
	return out
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
	benchDecoders(b, data, decodePull)
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
	benchDecoders(b, data, decodePush)
}

func benchDecoders[T any](b *testing.B, data []byte, fast func([]byte) (T, bool)) {
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jsonDecode[T](data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := fast(data); !ok {
				b.Fatal("declined")
			}
		}
	})
}
