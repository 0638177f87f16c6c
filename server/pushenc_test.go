package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"

	"casefile/internal/fieldtext/fieldtexttest"
	"casefile/model"
	"casefile/protocol"
	"casefile/server/store"
)

// recordGen draws server records: ids and names with every escape, times
// in zones (some json.Marshal refuses), fields of every kind, nil fields.
func recordGen() *rapid.Generator[*protocol.Record] {
	return rapid.Custom(func(t *rapid.T) *protocol.Record {
		text := fieldtexttest.String()
		return &protocol.Record{ID: text.Draw(t, "id"), Collection: text.Draw(t, "collection"), MatterID: text.Draw(t, "matter"),
			Version: rapid.Int64().Draw(t, "version"), Seq: rapid.Int64().Draw(t, "seq"), Deleted: rapid.Bool().Draw(t, "deleted"),
			Fields: fieldtexttest.Object(0).Draw(t, "fields"), CreatedBy: text.Draw(t, "createdBy"),
			CreatedAt: fieldtexttest.Time().Draw(t, "createdAt"), UpdatedBy: text.Draw(t, "updatedBy"),
			UpdatedAt: fieldtexttest.Time().Draw(t, "updatedAt")}
	})
}

// resultGen draws op results of every kind: applied and merged with
// their record, conflicts with the fields, who and when (or no when),
// rejections with a code, a message and now and then problems; each part
// present or absent whatever the kind, as json.Marshal does not care.
func resultGen() *rapid.Generator[protocol.OpResult] {
	return rapid.Custom(func(t *rapid.T) protocol.OpResult {
		text := fieldtexttest.String()
		maybe := func(label string) string {
			if rapid.Bool().Draw(t, label+"?") {
				return text.Draw(t, label)
			}
			return ""
		}
		res := protocol.OpResult{OpID: text.Draw(t, "op"),
			Result: model.OpResult(rapid.SampledFrom([]string{"applied", "merged", "conflict", "rejected", "<odd>"}).Draw(t, "result")),
			Code:   protocol.Code(maybe("code")), Message: maybe("message"), ChangedBy: maybe("changedBy")}
		if rapid.Bool().Draw(t, "record") {
			res.Record = recordGen().Draw(t, "rec")
			res.FieldsSent = rapid.Bool().Draw(t, "fieldsSent")
		}
		res.ConflictFields = fieldtexttest.Strings().Draw(t, "conflictFields")
		res.Dropped = fieldtexttest.Strings().Draw(t, "dropped")
		if rapid.Bool().Draw(t, "changedAt?") {
			res.ChangedAt = fieldtexttest.Time().Draw(t, "changedAt")
		}
		switch rapid.IntRange(0, 3).Draw(t, "problems") {
		case 0:
			res.Problems = []model.Problem{}
		case 1:
			for range rapid.IntRange(1, 3).Draw(t, "nProblems") {
				res.Problems = append(res.Problems, model.Problem{Collection: text.Draw(t, "pc"), Field: maybe("pf"),
					Message: text.Draw(t, "pm"), Kind: model.ProblemKind(maybe("pk"))})
			}
		}
		return res
	})
}

// sameJSON checks that an encoder wrote what json.Marshal wrote (want,
// wantErr), or failed where it failed.
func sameJSON(t *rapid.T, got []byte, err error, want []byte, wantErr error) {
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("the encoder: %v; json.Marshal: %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("the encoder wrote\n%q\njson.Marshal\n%q", got, want)
	}
}

// TestOpResultEncodesAsJSONDoes: a result's JSON, as the ledger keeps it
// and the push answer carries it, is json.Marshal's, byte for byte, and
// fails where it fails.
func TestOpResultEncodesAsJSONDoes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		res := resultGen().Draw(t, "res")
		want, wantErr := json.Marshal(res)
		got, err := encodeResult(&res)
		sameJSON(t, got, err, want, wantErr)
	})
}

// TestPushResponseEncodesAsJSONDoes: a push's answer, with some results
// encoded beforehand and others not, is what writeJSON writes for it:
// json.Marshal's and a newline.
func TestPushResponseEncodesAsJSONDoes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var resp protocol.PushResponse
		var texts [][]byte
		if n := rapid.IntRange(-1, 5).Draw(t, "results"); n >= 0 {
			resp.Results = []protocol.OpResult{}
			for range n {
				res := resultGen().Draw(t, "res")
				resp.Results = append(resp.Results, res)
				var text []byte
				if rapid.Bool().Draw(t, "encoded") {
					var err error
					if text, err = encodeResult(&res); err != nil {
						text = nil
					}
				}
				texts = append(texts, text)
			}
		}
		resp.Head = rapid.Int64().Draw(t, "head")
		resp.Cursor = rapid.SampledFrom([]int64{0, resp.Head, rapid.Int64().Draw(t, "cursor")}).Draw(t, "cursorOrNot")
		if rapid.Bool().Draw(t, "prior?") {
			prior := rapid.SampledFrom([]int64{0, rapid.Int64().Draw(t, "p")}).Draw(t, "prior")
			resp.Prior = &prior
		}
		want, wantErr := json.Marshal(resp)
		got, err := appendPushResponse(nil, &resp, texts)
		sameJSON(t, got, err, append(want, '\n'), wantErr)
	})
}

// TestRecordDigestIsJSONs: a record's audit digest is the SHA-256 of what
// json.Marshal wrote for it, so that chains written before still verify.
func TestRecordDigestIsJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := recordGen().Draw(t, "rec")
		r := store.Record{ID: p.ID, Collection: p.Collection, MatterID: p.MatterID, Version: p.Version, Deleted: p.Deleted, Fields: p.Fields}
		b, err := json.Marshal(struct {
			Collection string         `json:"collection"`
			Matter     string         `json:"matter"`
			Version    int64          `json:"version"`
			Deleted    bool           `json:"deleted"`
			Fields     map[string]any `json:"fields"`
		}{r.Collection, r.MatterID, r.Version, r.Deleted, r.Fields})
		want := ""
		if err == nil {
			sum := sha256.Sum256(b)
			want = hex.EncodeToString(sum[:])
		}
		if got := RecordDigest(r); got != want {
			t.Fatalf("recordDigest = %q, want %q, the digest of\n%s", got, want, b)
		}
	})
}

// TestDigestIsJSONs: other audit values are digested as before too.
func TestDigestIsJSONs(t *testing.T) {
	for _, v := range []any{protocol.RoleAdmin, "<admin>", 1.5, map[string]any{"b": 1, "a": []string{"x"}}, time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)} {
		b, _ := json.Marshal(v)
		sum := sha256.Sum256(b)
		if got, want := digest(v), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("digest(%#v) = %s, want %s", v, got, want)
		}
	}
}

func BenchmarkOpResult(b *testing.B) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	res := protocol.OpResult{OpID: model.NewID(), Result: model.ResultApplied, Record: &protocol.Record{ID: model.NewID(),
		Collection: "note", MatterID: model.NewID(), Version: 1, Seq: 12345, Fields: model.Fields{"matter_id": model.NewID(),
			"title": "Note 12345", "body": "Met the witness at the site; photos filed under evidence.", "tags": []string{"site", "witness"}},
		CreatedBy: "alice", CreatedAt: at, UpdatedBy: "alice", UpdatedAt: at}}
	b.Run("encodeResult", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeResult(&res); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(res); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSameValueMeansSameJSON: values sameValue calls the same encode to
// the same text (what lets a lean answer leave fields out), and a value is
// the same as itself decoded from its JSON with its lists of strings kept
// as []string or not, which is how a stored record and a decoded op hold
// the fields of a create applied as sent.
func TestSameValueMeansSameJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := fieldtexttest.Object(0).Draw(t, "a")
		ja, errA := json.Marshal(a)
		if errA != nil {
			t.Skip("not JSON")
		}
		var b map[string]any
		switch rapid.IntRange(0, 2).Draw(t, "b") {
		case 0:
			b = fieldtexttest.Object(0).Draw(t, "other")
		case 1: // decoded back, lists of strings as []any
			if err := json.Unmarshal(ja, &b); err != nil {
				t.Fatal(err)
			}
		case 2: // decoded back, then one value changed or dropped
			if err := json.Unmarshal(ja, &b); err != nil {
				t.Fatal(err)
			}
			for k := range b {
				if rapid.Bool().Draw(t, "drop") {
					delete(b, k)
				} else {
					b[k] = fieldtexttest.Value(1).Draw(t, "changed")
				}
				break
			}
		}
		jb, errB := json.Marshal(b)
		if sameValue(a, b) && (errB != nil || !bytes.Equal(ja, jb)) {
			t.Fatalf("sameValue(%#v, %#v), yet they encode as %s and %s", a, b, ja, jb)
		}
		var back map[string]any
		if err := json.Unmarshal(ja, &back); err != nil {
			t.Fatal(err)
		}
		if a != nil && !sameValue(back, a) && onlyJSONTypes(a) {
			t.Fatalf("%s decoded is not the same as %#v", ja, a)
		}
	})
}

// onlyJSONTypes says whether v holds only what decoding JSON gives and
// []string: ints would decode as float64, and a nil list or object as
// an untyped nil, and a string not UTF-8 as another, which sameValue
// tells apart.
func onlyJSONTypes(v any) bool {
	switch x := v.(type) {
	case nil, bool, float64:
		return true
	case string:
		return utf8.ValidString(x)
	case []string:
		return x != nil && !slices.ContainsFunc(x, func(s string) bool { return !utf8.ValidString(s) })
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !onlyJSONTypes(e) {
				return false
			}
		}
		return true
	case map[string]any:
		if x == nil {
			return false
		}
		for k, e := range x {
			if !utf8.ValidString(k) || !onlyJSONTypes(e) {
				return false
			}
		}
		return true
	}
	return false
}
