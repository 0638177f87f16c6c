package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UnitMinutes marks a number field that counts minutes of work: people
// type it as a duration ("1h30", "90m", "1.5h") and read it as one.
const UnitMinutes = "minutes"

// minutesExample is what ParseMinutes accepts, for its error messages.
const minutesExample = `try "90", "90m", "1h30" or "1.5h"`

// ParseMinutes reads a duration as people type it and returns whole
// minutes: plain minutes ("90"), minutes with a unit ("90m", "90 min"),
// hours ("2h", "1.5h"), hours and minutes ("1h30", "1h 30m", "1:30").
// Case and spaces do not matter. A value that is not a whole number of
// minutes ("1.33h") or is negative is refused with an example.
func ParseMinutes(s string) (float64, error) {
	text := strings.ToLower(strings.Join(strings.Fields(s), ""))
	bad := func() (float64, error) {
		return 0, fmt.Errorf("not a duration: %q (%s)", s, minutesExample)
	}
	if text == "" {
		return bad()
	}
	// "1:30" is hours and minutes.
	if h, m, ok := strings.Cut(text, ":"); ok {
		hv, err1 := strconv.Atoi(h)
		mv, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || hv < 0 || mv < 0 || mv > 59 || len(m) != 2 {
			return bad()
		}
		return float64(hv*60 + mv), nil
	}
	var total float64
	rest := text
	sawHours, sawMinutes := false, false
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return bad()
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || math.IsInf(n, 0) {
			return bad()
		}
		rest = rest[i:]
		unit := ""
		for _, u := range []string{"hours", "hour", "hrs", "hr", "h", "minutes", "minute", "mins", "min", "m"} {
			if strings.HasPrefix(rest, u) {
				unit, rest = u, rest[len(u):]
				break
			}
		}
		switch {
		case strings.HasPrefix(unit, "h"):
			if sawHours || sawMinutes {
				return bad()
			}
			sawHours = true
			total += n * 60
		case unit != "":
			if sawMinutes {
				return bad()
			}
			sawMinutes = true
			total += n
		case sawHours && !sawMinutes && rest == "":
			// "1h30": the number after the hours is minutes.
			sawMinutes = true
			total += n
		case !sawHours && !sawMinutes && rest == "":
			// A plain number is minutes, as the field always took it.
			return n, nil
		default:
			return bad()
		}
	}
	if math.Abs(total-math.Round(total)) > 1e-9 {
		return 0, fmt.Errorf("%q is %s minutes; give whole minutes (%s)", s, strconv.FormatFloat(total, 'f', -1, 64), minutesExample)
	}
	return math.Round(total), nil
}

// FormatMinutes shows minutes as people write a duration: "45m", "2h",
// "1h30"; a part of a minute is kept as a decimal ("1h30.5").
func FormatMinutes(m float64) string {
	if m < 0 {
		return "-" + FormatMinutes(-m)
	}
	h := math.Floor(m / 60)
	rest := m - h*60
	mins := strconv.FormatFloat(rest, 'f', -1, 64)
	switch {
	case h == 0:
		return mins + "m"
	case rest == 0:
		return strconv.FormatFloat(h, 'f', -1, 64) + "h"
	case rest < 10:
		mins = "0" + mins
	}
	return strconv.FormatFloat(h, 'f', -1, 64) + "h" + mins
}
