package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"casefile/internal/jsonread/jsonreadtest"
	"casefile/model"
	"casefile/protocol"
)

// agreeAsServer checks decodePushRequest on data against what
// decodeBody's encoding/json path does: when the decoder takes data,
// json.Unmarshal makes the same of it, a json.Decoder that refuses
// unknown keys takes it with nothing after it, and duplicateKey finds no
// key twice. It reports whether the decoder took data.
func agreeAsServer(t *rapid.T, data []byte) bool {
	if !jsonreadtest.Agree(t, data, decodePushRequest) {
		return false
	}
	var want protocol.PushRequest
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("decodePushRequest took what json.Unmarshal refuses (%v):\n%q", err, data)
	}
	if got, _ := decodePushRequest(data); !reflect.DeepEqual(got, want) {
		t.Fatalf("decodePushRequest and json.Unmarshal differ on\n%q\ndecoder: %#v\njson:    %#v", data, got, want)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var strict protocol.PushRequest
	if err := dec.Decode(&strict); err != nil {
		t.Fatalf("decodePushRequest took what a strict json.Decoder refuses (%v):\n%q", err, data)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("decodePushRequest took data with more after it:\n%q", data)
	}
	if k := duplicateKey(data); k != "" {
		t.Fatalf("decodePushRequest took the key %q twice:\n%q", k, data)
	}
	return true
}

// fieldKey draws a field's name: nearly always one as the schema names
// them, now and then one equal to others but for case, or not ASCII.
func fieldKey() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		if rapid.IntRange(0, 9).Draw(t, "oddKey") == 0 {
			return jsonreadtest.FoldedKey().Draw(t, "key")
		}
		return rapid.StringMatching(`[a-z_]{1,10}`).Draw(t, "key")
	})
}

func pushRequestGen() *rapid.Generator[protocol.PushRequest] {
	return rapid.Custom(func(t *rapid.T) protocol.PushRequest {
		var p protocol.PushRequest
		n := rapid.IntRange(-1, 4).Draw(t, "ops")
		if n >= 0 {
			p.Ops = []model.Op{}
		}
		str := jsonreadtest.String()
		for range n {
			op := model.Op{OpID: str.Draw(t, "opID"), RecordID: str.Draw(t, "recordID"), Collection: str.Draw(t, "collection"),
				Kind:        model.OpKind(rapid.OneOf(rapid.SampledFrom([]string{"create", "update", "delete"}), str).Draw(t, "kind")),
				BaseVersion: rapid.Int64().Draw(t, "base")}
			if rapid.IntRange(0, 9).Draw(t, "nilFields") > 0 {
				op.Fields = model.Fields(rapid.MapOfN(fieldKey(), jsonreadtest.Value(1, fieldKey()), 0, 5).Draw(t, "fields"))
			}
			if rapid.Bool().Draw(t, "resent") {
				op.Resent, op.SentSince = true, rapid.Int64().Draw(t, "since")
			}
			p.Ops = append(p.Ops, op)
		}
		return p
	})
}

// plainRequest reports whether every fields map in p, and every object in
// their values, has ASCII keys distinct but for case.
func plainRequest(p protocol.PushRequest) bool {
	return !slices.ContainsFunc(p.Ops, func(op model.Op) bool { return !jsonreadtest.PlainKeys(map[string]any(op.Fields)) })
}

// pushWriter writes a push as another client could: keys in any order,
// a zero value left out or written, null for a value it leaves zero.
type pushWriter struct{ *jsonreadtest.Writer }

func (w pushWriter) request(p protocol.PushRequest) {
	m := map[string]func(){}
	if p.Ops != nil {
		m["ops"] = func() { w.Array(len(p.Ops), func(i int) { w.op(p.Ops[i]) }) }
	} else if rapid.Bool().Draw(w.T, "nullOps") {
		m["ops"] = w.Null
	}
	w.Object(m)
}

func (w pushWriter) op(op model.Op) {
	m := map[string]func(){}
	// member writes a value as is, or a zero one left out or as null.
	member := func(key string, zero bool, write func()) {
		switch {
		case !zero:
			m[key] = write
		case rapid.IntRange(0, 3).Draw(w.T, "zero") == 0:
			m[key] = w.Null
		case rapid.Bool().Draw(w.T, "writeZero"):
			m[key] = write
		}
	}
	member("op_id", op.OpID == "", func() { w.Str(op.OpID) })
	member("record_id", op.RecordID == "", func() { w.Str(op.RecordID) })
	member("collection", op.Collection == "", func() { w.Str(op.Collection) })
	member("kind", op.Kind == "", func() { w.Str(string(op.Kind)) })
	member("base_version", op.BaseVersion == 0, func() { w.Int(op.BaseVersion) })
	member("resent", !op.Resent, func() { w.Bool(op.Resent) })
	member("sent_since", op.SentSince == 0, func() { w.Int(op.SentSince) })
	if op.Fields != nil {
		m["fields"] = func() { w.Value(map[string]any(op.Fields)) } // {} too
	} else if rapid.Bool().Draw(w.T, "nullFields") {
		m["fields"] = w.Null
	}
	w.Object(m)
}

// TestDecodePushRequestIsJSONs: decodePushRequest takes every push
// json.Marshal writes whose fields' keys are plain (ASCII, distinct but
// for case), and whatever it takes — those, pushes written otherwise,
// damaged ones — decodeBody's encoding/json path takes too, with the same
// result and no key twice.
func TestDecodePushRequestIsJSONs(t *testing.T) {
	took, plain := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		p := pushRequestGen().Draw(t, "push")
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !agreeAsServer(t, data) && plainRequest(p) {
			t.Fatalf("decodePushRequest declined what json.Marshal wrote:\n%q", data)
		}
		w := pushWriter{&jsonreadtest.Writer{T: t, Odd: rapid.IntRange(0, 3).Draw(t, "odd") == 0, Twins: 8}}
		w.request(p)
		data = w.B.Bytes()
		if ok := jsonreadtest.AndDamaged(t, data, func(d []byte) bool { return agreeAsServer(t, d) }); !w.Odd && !w.Twinned && plainRequest(p) {
			plain++
			if ok {
				took++
			}
		}
	})
	// Were it to decline everything, the properties would hold vacuously.
	if took*2 < plain {
		t.Fatalf("decodePushRequest took %d of %d plain pushes written otherwise", took, plain)
	}
}

// slowPushRequest is a PushRequest that decodeBody decodes by its
// encoding/json path, as it decoded every push before decodePushRequest.
type slowPushRequest protocol.PushRequest

// bodyAnswer is what decodeBody makes of body into v: its refusal's
// status, code and sentence, or "" and v.
func bodyAnswer(body []byte, v any) string {
	r := httptest.NewRequest(http.MethodPost, protocol.PathPush, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if ae := decodeBody(httptest.NewRecorder(), r, v); ae != nil {
		return fmt.Sprintf("%d %s %s", ae.status, ae.code, ae.msg)
	}
	return ""
}

// answersAsBefore checks that decodeBody answers data as a push as its
// encoding/json path answers it: the same refusal, or the same push.
func answersAsBefore(t interface{ Fatalf(string, ...any) }, data []byte) {
	var fast protocol.PushRequest
	var slow slowPushRequest
	got, want := bodyAnswer(data, &fast), bodyAnswer(data, &slow)
	if got != want {
		t.Fatalf("decodeBody answered %q, before %q, to\n%q", got, want, data)
	}
	if got == "" && !reflect.DeepEqual(fast, protocol.PushRequest(slow)) {
		t.Fatalf("decodeBody made %#v, before %#v, of\n%q", fast, slow, data)
	}
}

// TestDecodeBodyAsBefore: decodeBody answers every push body — drawn,
// written otherwise, damaged — as its encoding/json path answers it:
// the same refusal, or the same push.
func TestDecodeBodyAsBefore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := pushRequestGen().Draw(t, "push")
		w := pushWriter{&jsonreadtest.Writer{T: t, Odd: rapid.Bool().Draw(t, "odd"), Twins: 4}}
		w.request(p)
		jsonreadtest.AndDamaged(t, w.B.Bytes(), func(d []byte) bool { answersAsBefore(t, d); return true })
	})
}

// FuzzDecodeBodyPush: decodeBody answers any body as its encoding/json
// path answers it, and takes no key twice.
func FuzzDecodeBodyPush(f *testing.F) {
	for _, seed := range []string{
		`{"ops":[{"op_id":"o","record_id":"r","collection":"note","kind":"create","base_version":0,` +
			`"fields":{"title":"a\u00e9\ud83d\ude00","n":-1.5e3,"tags":["x"],"z":null}}]}`,
		`{"ops":[{"fields":{"title":1,"Title":2}}]}`, `{"ops":[{"Kind":"create"}]}`, `{"ops":[]} x`, `{"ops":[{"fields":{"a":1e999}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		answersAsBefore(t, data)
		if _, ok := decodePushRequest(data); ok && duplicateKey(data) != "" {
			t.Fatalf("decodePushRequest took a key twice:\n%q", data)
		}
	})
}

func TestDecodePushRequestEdges(t *testing.T) {
	for _, data := range []string{
		``, `null`, `[]`, `{"Ops":[]}`, `{"ops":[],"ops":[]}`, `{"ops":[null]}`, `{"ops":[{"Kind":"create"}]}`,
		`{"ops":[{"\u212aind":"create"}]}`, `{"ops":[{"kind":"create","kind":"update"}]}`, `{"ops":[{"kind":null,"kind":"x"}]}`,
		`{"ops":[{"version":1}]}`, `{"ops":[{"base_version":1.0}]}`, `{"ops":[{"base_version":9223372036854775808}]}`,
		`{"ops":[{"resent":1}]}`, `{"ops":[{"fields":[]}]}`, `{"ops":[{"fields":"x"}]}`, `{"ops":[]} x`, `{"ops":[]}{}`,
		`{"ops":[{"fields":{"a":1,"a":2}}]}`, `{"ops":[{"fields":{"title":1,"Title":2}}]}`, `{"ops":[{"fields":{"é":1}}]}`,
		`{"ops":[{"fields":{"k":1,"\u212a":2}}]}`, `{"ops":[{"fields":{"t":[{"a":1,"\u0041":2}]}}]}`,
		`{"ops":[{"fields":{"a":1e999}}]}`, `{"ops":[{"fields":{"a":-1e400}}]}`,
	} {
		if p, ok := decodePushRequest([]byte(data)); ok {
			t.Errorf("decodePushRequest took %q: %#v", data, p)
		}
	}
	for data, want := range map[string]protocol.PushRequest{
		`{}`:                        {},
		`{"ops":null}`:              {},
		`{"ops":[]}`:                {Ops: []model.Op{}},
		`{"ops":[{}]}`:              {Ops: []model.Op{{}}},
		`{"ops":[{"fields":null}]}`: {Ops: []model.Op{{}}},
		`{"ops":[{"fields":{}}]}`:   {Ops: []model.Op{{Fields: model.Fields{}}}},
		`{"ops":[{"op_id":null,"base_version":null,"resent":null}]}`: {Ops: []model.Op{{}}},
		`{"ops":[{"fields":{"n":12345678901234567890,"z":-0,"e":1E+2,"s":"\ud83d\ude00\ud800","t":["a",true,null,{"Title":1,"title_2":{}}]}}]}`: {
			Ops: []model.Op{{Fields: model.Fields{"n": 12345678901234567890.0, "z": 0.0, "e": 100.0, "s": "😀\ufffd",
				"t": []any{"a", true, nil, map[string]any{"Title": 1.0, "title_2": map[string]any{}}}}}}},
	} {
		got, ok := decodePushRequest([]byte(data))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("decodePushRequest made %#v, %v of %s; want %#v", got, ok, data, want)
		}
		if wantJSON, err := jsonreadtest.Decode[protocol.PushRequest]([]byte(data)); err != nil || !reflect.DeepEqual(wantJSON, want) {
			t.Errorf("json makes %#v, %v of %s; the test wants %#v", wantJSON, err, data, want)
		}
	}
}

// TestOpKeysAreOpsTags: decodePushRequest knows every key of an op, so a
// field added to model.Op is not left to encoding/json unnoticed.
func TestOpKeysAreOpsTags(t *testing.T) {
	var tags []string
	for f := range reflect.TypeFor[model.Op]().Fields() {
		tags = append(tags, strings.Split(f.Tag.Get("json"), ",")[0])
	}
	var keys []string
	for k := range opKeys {
		keys = append(keys, k)
	}
	slices.Sort(tags)
	slices.Sort(keys)
	if !slices.Equal(tags, keys) {
		t.Fatalf("opKeys %q, model.Op's keys %q", keys, tags)
	}
}

// pushBody is a batch of 500 new notes, each with about 500 bytes of
// fields, as json.Marshal writes it.
func pushBody(b *testing.B) []byte {
	var p protocol.PushRequest
	matter := "0193a4c2-0000-7abc-8def-0123456789ab"
	for i := range protocol.MaxOpsPerPush {
		p.Ops = append(p.Ops, model.Op{OpID: fmt.Sprintf("0193a4c2-%04x-7abc-8def-00000000000%d", i, i%10),
			RecordID: fmt.Sprintf("0193a4c2-%04x-7abc-8def-0123456789ab", i), Collection: "note", Kind: model.OpCreate,
			Fields: model.Fields{"title": fmt.Sprintf("Site visit %d: fence line and survey", i),
				"body": strings.Repeat("met the witness at the site office with the surveyor ", 8), "status": "open",
				"tags": []any{"site", "witness"}, "matter_id": matter}})
	}
	data, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkPushRequestDecode decodes a batch of 500 notes as decodeBody
// decoded every push before decodePushRequest ("json": a strict
// json.Decoder, then duplicateKey), and with decodePushRequest ("fast").
func BenchmarkPushRequestDecode(b *testing.B) {
	jsonreadtest.BenchAgainst(b, pushBody(b), func(data []byte) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var p protocol.PushRequest
		if err := dec.Decode(&p); err != nil {
			return err
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errors.New("trailing data")
		}
		if k := duplicateKey(data); k != "" {
			return errors.New("key twice: " + k)
		}
		return nil
	}, decodePushRequest)
}

// BenchmarkDecodeBodyPush is decodeBody on that batch, reading the body
// included: "json" by its encoding/json path, "fast" as a push is read.
func BenchmarkDecodeBodyPush(b *testing.B) {
	// answer decodes into a new value each time: into one that is not
	// zero, a push is not read the fast way.
	answer := func(v func() any) func([]byte) (string, bool) {
		return func(data []byte) (string, bool) {
			a := bodyAnswer(data, v())
			return a, a == ""
		}
	}
	slow := answer(func() any { return &slowPushRequest{} })
	jsonreadtest.BenchAgainst(b, pushBody(b), func(data []byte) error {
		if a, ok := slow(data); !ok {
			return errors.New(a)
		}
		return nil
	}, answer(func() any { return &protocol.PushRequest{} }))
}
