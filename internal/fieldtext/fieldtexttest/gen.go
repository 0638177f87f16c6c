// Package fieldtexttest draws the values the tests of fieldtext's appenders
// check against encoding/json: strings with everything json escapes,
// numbers of every magnitude, nested lists and objects, times.
package fieldtexttest

import (
	"math"
	"strings"
	"time"

	"pgregory.net/rapid"
)

// nasty are pieces of strings that encoding/json writes otherwise than as
// they are, or that sit next to such a case.
var nasty = []string{
	`"`, `\`, "/", "<", ">", "&", "<script>", "\u2028", "\u2029", "\u2027", "\u202a",
	"\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\ufffd",
	"é", "ü", "日本", "😀", "a", " ", "Note 7",
}

// String draws strings: plain ones, any ones, and ones put together from
// the cases encoding/json escapes (HTML characters, U+2028 and U+2029,
// control characters, bytes that are not UTF-8) among other characters.
func String() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.StringMatching(`[a-z0-9 ._-]{0,12}`),
		rapid.String(),
		rapid.Map(rapid.SliceOfN(rapid.SampledFrom(nasty), 0, 8), func(parts []string) string {
			return strings.Join(parts, "")
		}),
	)
}

// boundaries are float64s where encoding/json changes how it writes a
// number, and other awkward ones.
var boundaries = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, 1e-6, 1e-7, 9.999999e-7, 1.0000001e-6, 1e20, 1e21, 9.999999999999999e20,
	-1e21, 1e-9, 1e-10, 1.5e-300, 1e100, 1e300, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
	float64(math.MaxInt64), float64(math.MinInt64), 1 << 53, 1<<53 + 2, 123456789012345678,
}

// Float draws finite float64s of every magnitude: any bits, a mantissa
// times a power of ten from 1e-30 to 1e30, whole numbers, and the
// boundaries where encoding/json turns to an exponent.
func Float() *rapid.Generator[float64] {
	return rapid.OneOf(
		rapid.Float64(),
		rapid.Custom(func(t *rapid.T) float64 {
			m := rapid.Float64Range(-10, 10).Draw(t, "mantissa")
			return m * math.Pow10(rapid.IntRange(-30, 30).Draw(t, "exponent"))
		}),
		rapid.Map(rapid.Int64(), func(i int64) float64 { return float64(i) }),
		rapid.SampledFrom(boundaries),
	)
}

// Value draws what a record's fields hold (nil, a string, a float64, a
// bool, a []string) and what decoding JSON gives besides (ints, lists and
// objects of values, nested up to depth 3 from depth), nil lists and maps
// included.
func Value(depth int) *rapid.Generator[any] {
	gens := []*rapid.Generator[any]{
		rapid.Just[any](nil),
		rapid.Map(String(), func(s string) any { return s }),
		rapid.Map(Float(), func(f float64) any { return f }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.Int(), func(i int) any { return i }),
		rapid.Map(rapid.Int64(), func(i int64) any { return i }),
		rapid.Map(Strings(), func(s []string) any { return s }),
	}
	if depth < 3 {
		gens = append(gens,
			rapid.Custom(func(t *rapid.T) any {
				if rapid.IntRange(0, 9).Draw(t, "nilList") == 0 {
					return []any(nil)
				}
				return rapid.SliceOfN(Value(depth+1), 0, 4).Draw(t, "list")
			}),
			rapid.Map(Object(depth+1), func(m map[string]any) any { return m }),
		)
	}
	return rapid.OneOf(gens...)
}

// Strings draws lists of strings, nil and empty ones included.
func Strings() *rapid.Generator[[]string] {
	return rapid.Custom(func(t *rapid.T) []string {
		if rapid.IntRange(0, 9).Draw(t, "nilStrings") == 0 {
			return nil
		}
		return rapid.SliceOfN(String(), 0, 4).Draw(t, "strings")
	})
}

// Object draws objects of values at depth, nil ones included; Object(0)
// are a record's fields, and more.
func Object(depth int) *rapid.Generator[map[string]any] {
	return rapid.Custom(func(t *rapid.T) map[string]any {
		if rapid.IntRange(0, 19).Draw(t, "nilObject") == 0 {
			return nil
		}
		return rapid.MapOfN(String(), Value(depth), 0, 6).Draw(t, "object")
	})
}

// Time draws times from year 0 to 9999 with and without fractions of a
// second, in UTC and in zones to each side of it; and, now and then, times
// json.Marshal refuses: a year outside [0,9999] in its zone, a zone 24
// hours or more away from UTC.
func Time() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		at := time.Unix(rapid.Int64Range(-62167219200, 253402300799).Draw(t, "unix"), 0)
		switch rapid.IntRange(0, 2).Draw(t, "fraction") {
		case 1:
			at = at.Add(time.Duration(rapid.Int64Range(0, 999999999).Draw(t, "nanos")))
		case 2:
			at = at.Add(time.Duration(rapid.Int64Range(0, 999999).Draw(t, "micros")) * time.Microsecond)
		}
		zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}
		if rapid.IntRange(0, 19).Draw(t, "refused") == 0 {
			at = rapid.SampledFrom([]time.Time{at, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
				time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}).Draw(t, "edge")
			zones = append(zones, time.FixedZone("", 24*3600), time.FixedZone("", -24*3600), time.FixedZone("", 23*3600+59*60),
				time.FixedZone("", 100*3600), time.FixedZone("", 30))
		}
		return at.In(rapid.SampledFrom(zones).Draw(t, "zone"))
	})
}
