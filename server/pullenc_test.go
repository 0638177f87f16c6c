package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"

	"casefile/protocol"
)

// TestPullAnswerEncodesAsJSONDoes draws pull answers, strings with escapes,
// HTML characters, other scripts and invalid UTF-8, times in other zones
// and with or without fractions, and checks that appendJSON fails where
// json.Marshal fails (a year past 9999 in its zone) and otherwise writes what
// json.Marshal writes for them, byte for byte.
func TestPullAnswerEncodesAsJSONDoes(t *testing.T) {
	text := rapid.OneOf(
		rapid.StringMatching(`[a-z0-9-]{0,12}`),
		rapid.String(),
		rapid.SampledFrom([]string{"", `"`, `\`, "<&>", "\u2028", "\x00", "\xff", "é", "tab\there", "ümlaut"}),
	)
	when := rapid.Custom(func(t *rapid.T) time.Time {
		at := time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "unix"), 0)
		if rapid.Bool().Draw(t, "frac") {
			at = at.Add(time.Duration(rapid.Int64Range(0, 999999999).Draw(t, "nanos")))
		}
		zone := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}).Draw(t, "zone")
		return at.In(zone)
	})
	fields := rapid.SampledFrom([]string{`{}`, `{"title":"x"}`, `{"a":1.5,"b":null,"c":true,"tags":["x","y"]}`, `{"t":"\u003c\u2028"}`})
	rapid.Check(t, func(t *rapid.T) {
		var a pullAnswer
		for range rapid.IntRange(0, 4).Draw(t, "records") {
			a.Records = append(a.Records, pulledRecord{ID: text.Draw(t, "id"), Collection: text.Draw(t, "collection"),
				MatterID: text.Draw(t, "matter"), Version: rapid.Int64().Draw(t, "version"), Seq: rapid.Int64().Draw(t, "seq"),
				Deleted: rapid.Bool().Draw(t, "deleted"), Fields: json.RawMessage(fields.Draw(t, "fields")),
				CreatedBy: text.Draw(t, "createdBy"), CreatedAt: when.Draw(t, "createdAt"),
				UpdatedBy: text.Draw(t, "updatedBy"), UpdatedAt: when.Draw(t, "updatedAt")})
		}
		for range rapid.IntRange(0, 2).Draw(t, "removed") {
			a.Removed = append(a.Removed, protocol.Removal{ID: text.Draw(t, "removedID"), MatterID: text.Draw(t, "removedMatter")})
		}
		for range rapid.IntRange(0, 2).Draw(t, "dropped") {
			a.DroppedMatters = append(a.DroppedMatters, text.Draw(t, "droppedMatter"))
		}
		a.Cursor, a.Head, a.CompactedThrough, a.Total = rapid.Int64().Draw(t, "cursor"), rapid.Int64().Draw(t, "head"),
			rapid.Int64().Draw(t, "mark"), rapid.Int64().Draw(t, "total")
		a.More = rapid.Bool().Draw(t, "more")
		want, wantErr := json.Marshal(a)
		got, err := a.appendJSON(nil)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("appendJSON: %v; json.Marshal: %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(got, append(want, '\n')) {
			t.Fatalf("appendJSON wrote\n%s\njson.Marshal\n%s", got, want)
		}
	})
}

// TestPullAnswerRefusesWhatJSONRefuses: a time json.Marshal cannot write
// fails the page, as it did.
func TestPullAnswerRefusesWhatJSONRefuses(t *testing.T) {
	a := pullAnswer{Records: []pulledRecord{{ID: "r", Fields: json.RawMessage(`{}`), CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := json.Marshal(a); err == nil {
		t.Fatal("json.Marshal wrote a year past 9999")
	}
	if _, err := a.appendJSON(nil); err == nil {
		t.Fatal("appendJSON wrote a year past 9999")
	}
}
