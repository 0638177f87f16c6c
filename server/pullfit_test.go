package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestRecordJSONBytesBoundsItsJSON draws records with ids, collections and
// names as the model makes them (no escapes), numbers up to their widest,
// tombstones and times of every year, fraction and zone, and checks that
// jsonBytes is never below the length of the record's JSON and no more
// than the numbers' and times' widest forms above it.
func TestRecordJSONBytesBoundsItsJSON(t *testing.T) {
	plain := rapid.StringMatching(`[a-z0-9._@-]{0,40}`)
	when := rapid.Custom(func(t *rapid.T) time.Time {
		at := time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "unix"),
			rapid.Int64Range(0, 999999999).Draw(t, "nanos"))
		zone := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("", 23*3600+59*60), time.FixedZone("", -8*3600)}).Draw(t, "zone")
		return at.In(zone)
	})
	rapid.Check(t, func(t *rapid.T) {
		r := pulledRecord{ID: plain.Draw(t, "id"), Collection: plain.Draw(t, "collection"), MatterID: plain.Draw(t, "matter"),
			Version: rapid.Int64().Draw(t, "version"), Seq: rapid.Int64().Draw(t, "seq"), Deleted: rapid.Bool().Draw(t, "deleted"),
			Fields:    json.RawMessage(`{"title":"` + strings.Repeat("x", rapid.IntRange(0, 100).Draw(t, "title")) + `"}`),
			CreatedBy: plain.Draw(t, "createdBy"), CreatedAt: when.Draw(t, "createdAt"),
			UpdatedBy: plain.Draw(t, "updatedBy"), UpdatedAt: when.Draw(t, "updatedAt")}
		b, err := r.appendJSON(nil)
		if err != nil {
			t.Skip("a time JSON cannot write")
		}
		// Numbers of one digit and times of 20 characters ("2006-01-02T15:04:05Z")
		// at their shortest, and no tombstone.
		loosest := 2*(len("-9223372036854775808")-1) + 2*(len(`"9999-12-31T23:59:59.999999999+23:59"`)-len(`"2006-01-02T15:04:05Z"`)) + len(`,"deleted":true`)
		if got := r.jsonBytes(); got < len(b) || got > len(b)+loosest {
			t.Fatalf("jsonBytes %d for %d bytes of JSON:\n%s", got, len(b), b)
		}
	})
}

// TestPageFits: a page takes records while their JSON, with commas, keeps
// within the budget, and always the first.
func TestPageFits(t *testing.T) {
	rec := func(n int) pulledRecord {
		return pulledRecord{Fields: json.RawMessage(strings.Repeat(" ", n))}
	}
	hundred := rec(100)
	one := hundred.jsonBytes() + 1 // with its comma
	for _, c := range []struct {
		name   string
		recs   []pulledRecord
		budget int
		want   int
	}{
		{"none", nil, 1000, 0},
		{"all fit", []pulledRecord{rec(100), rec(100), rec(100)}, 3 * one, 3},
		{"one byte short", []pulledRecord{rec(100), rec(100), rec(100)}, 3*one - 1, 2},
		{"the first alone, over the budget", []pulledRecord{rec(5000), rec(1)}, one, 1},
		{"a large one after small ones waits", []pulledRecord{rec(100), rec(5000)}, 2 * one, 1},
		{"a budget of one byte", []pulledRecord{rec(100), rec(100)}, 1, 1},
	} {
		if got := pageFits(c.recs, c.budget); got != c.want {
			t.Errorf("%s: %d records fit, want %d", c.name, got, c.want)
		}
	}
}
