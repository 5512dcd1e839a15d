package shipevents

import (
	"fmt"
	"strings"
	"time"
)

// Layouts tried for timestamps that carry their own offset or Z.
var explicitLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05-07",
	"2006-01-02T15:04:05-07",
}

// Layouts tried for local wall-clock timestamps without a zone.
var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
}

// parseTimestamp reads a carrier timestamp. A timestamp with an offset or
// Z is an explicit instant; one without a zone is read as UTC and reported
// as TimeAssumedUTC (it is the carrier's local wall time, and the offset is
// unknown); a bare date is midnight UTC, TimeDateOnly.
func parseTimestamp(s string) (time.Time, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, "", fmt.Errorf("empty timestamp")
	}
	if len(s) > 64 {
		return time.Time{}, "", fmt.Errorf("timestamp %.20q... is too long", s)
	}
	if t, src, ok := parseISO(s); ok {
		return t, src, nil
	}
	// Rarer spellings: try the layouts one by one.
	for _, l := range explicitLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), TimeExplicit, nil
		}
	}
	for _, l := range localLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, TimeAssumedUTC, nil
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, TimeDateOnly, nil
	}
	return time.Time{}, "", fmt.Errorf("unrecognised timestamp %s", quote(s))
}

// parseISO reads the common ISO 8601 shapes directly, without time.Parse's
// failed attempts (each allocates an error): YYYY-MM-DD, optionally T or a
// space and HH:MM[:SS[.fraction]], optionally Z or an offset ±HH:MM, ±HHMM
// or ±HH. ok is false for anything else, including impossible dates.
func parseISO(s string) (t time.Time, source string, ok bool) {
	num := func(from, n int) (int, bool) {
		if from+n > len(s) {
			return 0, false
		}
		v := 0
		for i := from; i < from+n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, "", false
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, "", false
	}
	if len(s) == 10 {
		t = time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		return t, TimeDateOnly, t.Day() == d
	}
	if s[10] != 'T' && s[10] != ' ' {
		return time.Time{}, "", false
	}
	h, ok1 := num(11, 2)
	mi, ok2 := num(14, 2)
	if !ok1 || !ok2 || len(s) < 16 || s[13] != ':' || h > 23 || mi > 59 {
		return time.Time{}, "", false
	}
	i, sec, nsec := 16, 0, 0
	if i < len(s) && s[i] == ':' {
		v, ok := num(i+1, 2)
		if !ok || v > 59 {
			return time.Time{}, "", false
		}
		sec, i = v, i+3
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			digits := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if digits < 9 {
					nsec = nsec*10 + int(s[i]-'0')
					digits++
				}
				i++
			}
			if digits == 0 {
				return time.Time{}, "", false
			}
			for ; digits < 9; digits++ {
				nsec *= 10
			}
		}
	}
	source = TimeAssumedUTC
	offset := 0
	if rest := s[i:]; rest != "" {
		if rest == "Z" || rest == "z" {
			source = TimeExplicit
		} else {
			off, err := parseOffset(rest)
			if err != nil {
				return time.Time{}, "", false
			}
			offset, source = off, TimeExplicit
		}
	}
	t = time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
	if t.Day() != d {
		return time.Time{}, "", false // 31 June and the like
	}
	return t.Add(-time.Duration(offset) * time.Second), source, true
}

// parseOffset reads a UTC offset written as -04:00, -0400, -04.00 (the
// UPS Track Alert style), -4 or Z, and returns it in seconds east of UTC.
func parseOffset(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "Z" || s == "z" {
		return 0, nil
	}
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("unrecognised UTC offset %s", quote(s))
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	body := s[1:]
	var hh, mm string
	switch {
	case len(body) == 5 && (body[2] == ':' || body[2] == '.'):
		hh, mm = body[:2], body[3:]
	case len(body) == 4:
		hh, mm = body[:2], body[2:]
	case len(body) == 1 || len(body) == 2:
		hh, mm = body, "00"
	default:
		return 0, fmt.Errorf("unrecognised UTC offset %s", quote(s))
	}
	h, err1 := atoiDigits(hh)
	m, err2 := atoiDigits(mm)
	if err1 != nil || err2 != nil || h > 14 || m > 59 {
		return 0, fmt.Errorf("unrecognised UTC offset %s", quote(s))
	}
	return sign * (h*3600 + m*60), nil
}

func atoiDigits(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number: %s", quote(s))
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// parseCompactDateTime reads date YYYYMMDD and time HHMMSS (or HHMM, or
// empty for midnight) as wall-clock time in UTC.
func parseCompactDateTime(date, clock string) (time.Time, error) {
	if len(date) != 8 {
		return time.Time{}, fmt.Errorf("date %s is not YYYYMMDD", quote(date))
	}
	y, e1 := atoiDigits(date[:4])
	mo, e2 := atoiDigits(date[4:6])
	d, e3 := atoiDigits(date[6:])
	if e1 != nil || e2 != nil || e3 != nil || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, fmt.Errorf("date %s is not YYYYMMDD", quote(date))
	}
	var h, mi, sec int
	switch len(clock) {
	case 0:
	case 4, 6:
		var err error
		if h, err = atoiDigits(clock[:2]); err != nil {
			return time.Time{}, fmt.Errorf("time %s is not HHMMSS", quote(clock))
		}
		if mi, err = atoiDigits(clock[2:4]); err != nil {
			return time.Time{}, fmt.Errorf("time %s is not HHMMSS", quote(clock))
		}
		if len(clock) == 6 {
			if sec, err = atoiDigits(clock[4:]); err != nil {
				return time.Time{}, fmt.Errorf("time %s is not HHMMSS", quote(clock))
			}
		}
		if h > 23 || mi > 59 || sec > 60 {
			return time.Time{}, fmt.Errorf("time %s is not HHMMSS", quote(clock))
		}
	default:
		return time.Time{}, fmt.Errorf("time %s is not HHMMSS", quote(clock))
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, fmt.Errorf("date %s does not exist", quote(date))
	}
	return t, nil
}

// Instants outside these bounds are treated as corrupt input.
var (
	minInstant = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkInstant(t time.Time) error {
	if t.Before(minInstant) || t.After(maxInstant) {
		return fmt.Errorf("time %s is outside the plausible range %d-%d", t.UTC().Format(time.RFC3339), minInstant.Year(), maxInstant.Year())
	}
	return nil
}

// estimateInstant parses a timestamp that is nice to have (an estimate):
// nil when it is empty, unparseable or implausible.
func estimateInstant(s string) *time.Time {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	t, _, err := parseTimestamp(s)
	if err != nil || checkInstant(t) != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
