package model

import (
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestParseWhen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	// Monday 14 December 2026, 22:10 in Paris.
	now := time.Date(2026, 12, 14, 22, 10, 0, 0, paris)
	dmy := Input{Now: now, Zone: paris, Order: DMY}
	mdy := Input{Now: now, Zone: paris, Order: MDY}
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, paris) }
	for _, tc := range []struct {
		in   string
		opt  Input
		want time.Time
	}{
		{"9:30am", dmy, at(2026, 12, 14, 9, 30)},
		{"9:30 PM", dmy, at(2026, 12, 14, 21, 30)},
		{"12am", dmy, at(2026, 12, 14, 0, 0)},
		{"12:15pm", dmy, at(2026, 12, 14, 12, 15)},
		{"14:00", dmy, at(2026, 12, 14, 14, 0)},
		{"tomorrow 14:00", dmy, at(2026, 12, 15, 14, 0)},
		{"Tomorrow, 9am", dmy, at(2026, 12, 15, 9, 0)},
		{"yesterday 08:05", dmy, at(2026, 12, 13, 8, 5)},
		{"today", dmy, at(2026, 12, 14, 0, 0)},
		{"15/12 9:30", dmy, at(2026, 12, 15, 9, 30)},
		{"12/15 9:30", mdy, at(2026, 12, 15, 9, 30)},
		{"3/1/2027 10:00", dmy, at(2027, 1, 3, 10, 0)},
		{"3/1/2027 10:00", mdy, at(2027, 3, 1, 10, 0)},
		{"15.12.26 9:30", dmy, at(2026, 12, 15, 9, 30)},
		{"15 Dec 9:30", dmy, at(2026, 12, 15, 9, 30)},
		{"Tue 15 Dec 09:30", dmy, at(2026, 12, 15, 9, 30)},
		{"Dec 15 2027 9:30am", mdy, at(2027, 12, 15, 9, 30)},
		{"2026-12-15T09:30", dmy, at(2026, 12, 15, 9, 30)},
		{"2026-12-15 09:30:00", dmy, at(2026, 12, 15, 9, 30)},
		{"2026-12-15", dmy, at(2026, 12, 15, 0, 0)},
		{"2026-12-15T09:30:00Z", dmy, time.Date(2026, 12, 15, 9, 30, 0, 0, time.UTC)},
		{"2026-12-15T09:30:00-05:00", dmy, time.Date(2026, 12, 15, 14, 30, 0, 0, time.UTC)},
	} {
		got, err := ParseWhen(tc.in, tc.opt)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseWhen(%q, %s) = %v, %v; want %v", tc.in, tc.opt.Order, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "soon", "25:00", "9:3", "13pm", "0am", "31/02 9:00", "15/13", "42", "tomorrow tomorrow 9:00 10:00"} {
		_, err := ParseWhen(bad, dmy)
		if err == nil {
			t.Errorf("ParseWhen(%q) accepted it", bad)
			continue
		}
		if !strings.Contains(err.Error(), `"15/12 9:30"`) {
			t.Errorf("ParseWhen(%q) error %q shows no example", bad, err)
		}
	}
	if _, err := ParseWhen("soon", mdy); err == nil || !strings.Contains(err.Error(), `"12/15 9:30"`) {
		t.Errorf("the MDY error shows no MDY example: %v", err)
	}
}

func TestFormatWhen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	now := time.Date(2026, 12, 14, 12, 0, 0, 0, time.UTC)
	instant := time.Date(2026, 12, 15, 8, 30, 0, 0, time.UTC)
	if got := FormatWhen(instant, paris, now); got != "Tue 15 Dec 09:30" {
		t.Errorf("FormatWhen in Paris = %q, want Tue 15 Dec 09:30", got)
	}
	if got := FormatWhen(instant, time.UTC, now); got != "Tue 15 Dec 08:30" {
		t.Errorf("FormatWhen in UTC = %q, want Tue 15 Dec 08:30", got)
	}
	if got := FormatWhen(instant.AddDate(1, 0, 0), paris, now); got != "Wed 15 Dec 2027 09:30" {
		t.Errorf("FormatWhen next year = %q, want the year shown", got)
	}
	// What FormatWhen shows, ParseWhen reads back.
	back, err := ParseWhen(FormatWhen(instant, paris, now), Input{Now: now, Zone: paris, Order: DMY})
	if err != nil || !back.Equal(instant) {
		t.Errorf("round trip: %v, %v; want %v", back, err, instant)
	}
}

// TestInstantsWithTwoOffsets draws one instant written with two offsets:
// it normalises to one value, compares equal, and setting it on one side
// while the server has it from the other raises no conflict. A time
// typed without a zone is read in the person's zone.
func TestInstantsWithTwoOffsets(t *testing.T) {
	s := testSchema(t)
	hearing, _ := s.Collection("hearing")
	rapid.Check(t, func(rt *rapid.T) {
		instant := time.Unix(rapid.Int64Range(0, 4102444800).Draw(rt, "unix"), 0).UTC()
		offset := func(label string) *time.Location {
			q := rapid.IntRange(-14*4, 14*4).Draw(rt, label) // quarter hours
			return time.FixedZone(label, q*15*60)
		}
		za, zb := offset("a"), offset("b")
		a, b := instant.In(za).Format(time.RFC3339), instant.In(zb).Format(time.RFC3339)
		na, pa := hearing.Validate(Fields{"starts_at": a}, false)
		nb, pb := hearing.Validate(Fields{"starts_at": b}, false)
		if len(pa)+len(pb) > 0 {
			rt.Fatalf("valid instants refused: %v %v", pa, pb)
		}
		if na["starts_at"] != nb["starts_at"] || na["starts_at"] != instant.Format(time.RFC3339) {
			rt.Fatalf("%s and %s normalise to %v and %v, want both %s", a, b, na["starts_at"], nb["starts_at"], instant.Format(time.RFC3339))
		}
		if !Equal(a, b) {
			rt.Fatalf("%s and %s compare unequal", a, b)
		}
		// The server holds b (as a record stored before UTC did), changed
		// after the base; this device sets a: nothing to decide.
		m := ThreeWay(hearing, 3, Fields{"starts_at": b}, map[string]int64{"starts_at": 3}, 2, Fields{"starts_at": a})
		if len(m.Conflicts) > 0 || len(m.Apply) > 0 {
			rt.Fatalf("setting %s over %s: %+v, want no conflict and nothing to apply", a, b, m)
		}
		// Typed without a zone, in the person's zone za.
		typed := instant.In(za).Format("2006-01-02 15:04:05")
		got, err := ParseWhen(typed, Input{Now: instant, Zone: za, Order: DMY})
		if err != nil || !got.Equal(instant) {
			rt.Fatalf("%q typed in %s = %v, %v; want %v", typed, za, got, err, instant)
		}
	})
}
