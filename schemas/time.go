package schemas

import (
	"fmt"
	"time"
)

// Bounds on record timestamps. Anything outside them is a client bug (a zero
// value, seconds read as milliseconds, a wrong clock) rather than real data,
// and would otherwise create an absurd day=... partition.
var minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxFutureSkew = 24 * time.Hour

// Layouts accepted by ParseTime, after the date/time separator has been
// normalized to 'T'. A fractional second of any length, after '.' or ',', is
// accepted by time.Parse even though the layouts do not spell it out.
const (
	layoutZoned = time.RFC3339          // 2026-11-25T10:00:00.123Z, ...+02:00
	layoutLocal = "2006-01-02T15:04:05" // Python isoformat() of a naive datetime
)

// ParseTime parses a record timestamp: RFC 3339 (with 'T', 't' or ' ' between
// date and time, 'Z', 'z' or a numeric offset), or ISO 8601 without a zone, as
// Python's datetime.isoformat() writes it for naive datetimes, which is read as
// UTC because that is what Session-Buddy means by it. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	if len(s) < len("2006-01-02T15:04:05") || len(s) > 64 {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", truncate(s, 64))
	}
	// Normalize the two spellings time.Parse does not accept, without
	// allocating in the common case.
	var buf [64]byte
	b := append(buf[:0], s...)
	if b[10] == ' ' || b[10] == 't' {
		b[10] = 'T'
	}
	zoned := false
	switch last := b[len(b)-1]; {
	case last == 'z':
		b[len(b)-1] = 'Z'
		zoned = true
	case last == 'Z':
		zoned = true
	default:
		// A numeric offset is the only place after the date where '+' or '-'
		// can appear.
		for _, c := range b[19:] {
			if c == '+' || c == '-' {
				zoned = true
				break
			}
		}
	}
	var t time.Time
	var err error
	if zoned {
		t, err = time.Parse(layoutZoned, string(b))
	} else {
		t, err = time.ParseInLocation(layoutLocal, string(b), time.UTC)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return t.UTC(), nil
}

// FormatTime formats t as Akosha writes timestamps: RFC 3339 in UTC, with as
// many fractional digits as needed (at most 6 once normalized).
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// Day returns the day=... partition value of t: its UTC date as YYYY-MM-DD.
func Day(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

// normalizeTime is the form in which timestamps are stored: UTC, truncated to
// the microsecond precision of Parquet and Delta timestamps, so that a record
// compares equal to itself after a round trip through the lake.
func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// checkTime reports what is wrong with a record timestamp, or "" if nothing.
func checkTime(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "is required"
	case t.Before(minTime):
		return fmt.Sprintf("%s is before 2000-01-01", FormatTime(t))
	case t.After(now.Add(maxFutureSkew)):
		return fmt.Sprintf("%s is more than a day in the future", FormatTime(t))
	}
	return ""
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
