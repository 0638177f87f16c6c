package model

import (
	"strings"
	"testing"
)

func TestParseMinutes(t *testing.T) {
	good := map[string]float64{
		"90": 90, "0": 0, "45.5": 45.5, "90m": 90, "90 min": 90, "90mins": 90, "90 minutes": 90,
		"1h": 60, "2H": 120, "1h30": 90, "1h30m": 90, "1h 30m": 90, "1 h 5": 65, "1.5h": 90,
		"0.25h": 15, "1:30": 90, "0:05": 5, "2 hours": 120, "1hr15": 75, "1.5h15m": 105,
	}
	for in, want := range good {
		got, err := ParseMinutes(in)
		if err != nil || got != want {
			t.Errorf("ParseMinutes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "h", "1x", "1h30h", "30m1h", "1m30", "-5", "1:5", "1:75", "1..5h", "1.33h", "1h30m5", "m"} {
		if got, err := ParseMinutes(in); err == nil {
			t.Errorf("ParseMinutes(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), `"1h30"`) {
			t.Errorf("ParseMinutes(%q): error %q shows no example", in, err)
		}
	}
}

func TestFormatMinutesReadsBack(t *testing.T) {
	want := map[float64]string{0: "0m", 5: "5m", 45: "45m", 60: "1h", 65: "1h05", 90: "1h30", 600: "10h", 1440: "24h"}
	for m, s := range want {
		if got := FormatMinutes(m); got != s {
			t.Errorf("FormatMinutes(%v) = %q, want %q", m, got, s)
		}
		if back, err := ParseMinutes(s); err != nil || back != m {
			t.Errorf("ParseMinutes(FormatMinutes(%v)) = %v, %v", m, back, err)
		}
	}
}

// TestMinutesFieldTakesDurations: a number field with unit "minutes"
// reads what people type, and the schema refuses a unit elsewhere.
func TestMinutesFieldTakesDurations(t *testing.T) {
	s := testSchemaWith(t, `
[[collection]]
name = "matter"
  [[collection.field]]
  name = "title"
  type = "text"
[[collection]]
name = "time_entry"
  [[collection.field]]
  name = "matter_id"
  type = "ref"
  ref = "matter"
  required = true
  [[collection.field]]
  name = "minutes"
  type = "number"
  unit = "minutes"
  [[collection.field]]
  name = "count"
  type = "number"
`)
	c, _ := s.Collection("time_entry")
	f, _ := c.Field("minutes")
	if v, err := f.ParseInput("1h30"); err != nil || v != 90.0 {
		t.Errorf("minutes=1h30 read as %v, %v", v, err)
	}
	plain, _ := c.Field("count")
	if _, err := plain.ParseInput("1h30"); err == nil {
		t.Error("a plain number field took 1h30")
	}
	_, err := ParseSchema([]byte(`
[[collection]]
name = "matter"
  [[collection.field]]
  name = "title"
  type = "text"
  unit = "minutes"
`))
	if err == nil || !strings.Contains(err.Error(), "unit") {
		t.Errorf("a unit on a text field: %v, want refused", err)
	}
}

func testSchemaWith(t *testing.T, src string) *Schema {
	t.Helper()
	s, err := ParseSchema([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
