package model

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DateOrder says how a person writes a day and a month in digits.
type DateOrder string

// The date orders: 15/12 is the 15th of December in DMY, 12/15 in MDY.
const (
	DMY DateOrder = "DMY"
	MDY DateOrder = "MDY"
)

// ParseDateOrder reads a date order setting ("DMY" or "MDY", any case).
func ParseDateOrder(s string) (DateOrder, error) {
	switch o := DateOrder(strings.ToUpper(strings.TrimSpace(s))); o {
	case DMY, MDY:
		return o, nil
	}
	return "", fmt.Errorf("date order %q: use DMY (15/12 is 15 December) or MDY (12/15 is 15 December)", s)
}

// Input is what reading a person's date or time depends on: the moment
// "today" and "tomorrow" count from, the person's time zone (a time with
// no zone is read in it) and how they order day and month.
type Input struct {
	Now   time.Time
	Zone  *time.Location
	Order DateOrder
}

func (in Input) zone() *time.Location {
	if in.Zone == nil {
		return time.UTC
	}
	return in.Zone
}

// example is a sentence's worth of what ParseWhen accepts, in the order's
// own way of writing a day.
func (in Input) example() string {
	day := "15/12 9:30"
	if in.Order == MDY {
		day = "12/15 9:30"
	}
	return `try "9:30am", "tomorrow 14:00", "` + day + `" or "2026-12-15T09:30"`
}

// ParseWhen reads an instant as people type it: "9:30am", "14:00" (today),
// "tomorrow 14:00", "yesterday 9am", "15/12 9:30" or "15/12/2026 9:30" (in
// the person's date order), "15 Dec 9:30", "Tue 15 Dec 09:30", ISO dates
// and times with or without a zone. A time without a zone is read in
// in.Zone; a day without a time is its midnight there.
func ParseWhen(s string, in Input) (time.Time, error) {
	text := strings.TrimSpace(s)
	if t, ok := parseISO(text, in.zone()); ok {
		return t, nil
	}
	words := strings.Fields(strings.ToLower(strings.ReplaceAll(text, ",", " ")))
	now := in.Now.In(in.zone())
	y, m, d := now.Date()
	dayGiven, clockGiven := false, false
	hour, minute, sec := 0, 0, 0
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "now" && len(words) == 1:
			return in.Now, nil
		case w == "today":
			dayGiven = true
		case w == "tomorrow":
			y, m, d = now.AddDate(0, 0, 1).Date()
			dayGiven = true
		case w == "yesterday":
			y, m, d = now.AddDate(0, 0, -1).Date()
			dayGiven = true
		case weekday(w):
			// "Tue" in "Tue 15 Dec": the date that follows decides.
		case monthOf(w) != 0 && !dayGiven:
			// "Dec 15 [2026]".
			if i+1 >= len(words) {
				return time.Time{}, whenError(s, in)
			}
			dd, err := strconv.Atoi(words[i+1])
			if err != nil {
				return time.Time{}, whenError(s, in)
			}
			m, d, i = monthOf(w), dd, i+1
			if i+1 < len(words) && isYear(words[i+1]) {
				y, _ = strconv.Atoi(words[i+1])
				i++
			}
			dayGiven = true
		case i+1 < len(words) && monthOf(words[i+1]) != 0 && !dayGiven:
			// "15 Dec [2026]".
			dd, err := strconv.Atoi(w)
			if err != nil {
				return time.Time{}, whenError(s, in)
			}
			m, d, i = monthOf(words[i+1]), dd, i+1
			if i+1 < len(words) && isYear(words[i+1]) {
				y, _ = strconv.Atoi(words[i+1])
				i++
			}
			dayGiven = true
		case strings.ContainsAny(w, "/.") && !dayGiven:
			yy, mm, dd, ok := parseDigitsDay(w, in.Order, y)
			if !ok {
				return time.Time{}, whenError(s, in)
			}
			y, m, d, dayGiven = yy, mm, dd, true
		case !clockGiven:
			// "9:30", "9:30am", "9am", and "9:30 am" as two words.
			if i+1 < len(words) && (words[i+1] == "am" || words[i+1] == "pm") {
				w += words[i+1]
				i++
			}
			h, mi, se, ok := parseClock(w)
			if !ok {
				return time.Time{}, whenError(s, in)
			}
			hour, minute, sec, clockGiven = h, mi, se, true
		default:
			return time.Time{}, whenError(s, in)
		}
	}
	if !dayGiven && !clockGiven {
		return time.Time{}, whenError(s, in)
	}
	t := time.Date(y, m, d, hour, minute, sec, 0, in.zone())
	if t.Day() != d || t.Month() != m {
		return time.Time{}, fmt.Errorf("no such day: %q (%s)", s, in.example())
	}
	return t, nil
}

func whenError(s string, in Input) error {
	return fmt.Errorf("not a date and time: %q (%s)", s, in.example())
}

// parseISO reads RFC 3339 (with a zone) and the ISO forms without one.
func parseISO(s string, zone *time.Location) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02 15:04Z07:00", "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseClock reads "9", "9:30", "09:30:15", with "am"/"pm" or on 24 hours.
func parseClock(w string) (h, m, s int, ok bool) {
	half := ""
	if strings.HasSuffix(w, "am") || strings.HasSuffix(w, "pm") {
		half, w = w[len(w)-2:], w[:len(w)-2]
	}
	parts := strings.Split(w, ":")
	if len(parts) > 3 || (len(parts) == 1 && half == "") {
		return 0, 0, 0, false // a lone number is not a time of day
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (i > 0 && len(p) != 2) {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	h, m, s = n[0], n[1], n[2]
	switch half {
	case "am", "pm":
		if h < 1 || h > 12 {
			return 0, 0, 0, false
		}
		h %= 12
		if half == "pm" {
			h += 12
		}
	}
	if h > 23 || m > 59 || s > 59 {
		return 0, 0, 0, false
	}
	return h, m, s, true
}

// parseDigitsDay reads "15/12", "15/12/2026", "15.12.26" in the given
// order; a year of two digits is this century's.
func parseDigitsDay(w string, order DateOrder, thisYear int) (int, time.Month, int, bool) {
	parts := strings.FieldsFunc(w, func(r rune) bool { return r == '/' || r == '.' })
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	d, mo := n[0], n[1]
	if order == MDY {
		d, mo = n[1], n[0]
	}
	y := thisYear
	if len(parts) == 3 {
		y = n[2]
		if len(parts[2]) == 2 {
			y += thisYear / 100 * 100
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, 0, 0, false
	}
	return y, time.Month(mo), d, true
}

func isYear(w string) bool {
	y, err := strconv.Atoi(w)
	return err == nil && len(w) == 4 && y > 0
}

func weekday(w string) bool {
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if w == name || w == name[:3] {
			return true
		}
	}
	return false
}

func monthOf(w string) time.Month {
	for m := time.January; m <= time.December; m++ {
		name := strings.ToLower(m.String())
		if w == name || w == name[:3] {
			return m
		}
	}
	return 0
}

// FormatWhen shows an instant briefly in a person's zone: "Tue 15 Dec
// 09:30", with the year when it is not now's year there.
func FormatWhen(t time.Time, zone *time.Location, now time.Time) string {
	if zone == nil {
		zone = time.UTC
	}
	t = t.In(zone)
	if t.Year() != now.In(zone).Year() {
		return t.Format("Mon 2 Jan 2006 15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}
