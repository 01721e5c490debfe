package schemas

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: an error is expected
	}{
		{"2026-11-25T10:00:00Z", utc(2026, 11, 25, 10, 0, 0, 0)},
		{"2026-11-25T10:00:00.123Z", utc(2026, 11, 25, 10, 0, 0, 123000000)},
		{"2026-11-25T10:00:00.123456789Z", utc(2026, 11, 25, 10, 0, 0, 123456789)},
		{"2026-11-25T12:00:00+02:00", utc(2026, 11, 25, 10, 0, 0, 0)},
		{"2026-11-25T05:30:00.5-04:30", utc(2026, 11, 25, 10, 0, 0, 500000000)},
		{"2026-11-25t10:00:00z", utc(2026, 11, 25, 10, 0, 0, 0)},
		// Python isoformat(): naive datetimes read as UTC, aware ones as RFC 3339.
		{"2026-11-25T10:00:00", utc(2026, 11, 25, 10, 0, 0, 0)},
		{"2026-11-25T10:00:00.123456", utc(2026, 11, 25, 10, 0, 0, 123456000)},
		{"2026-11-25T10:00:00.123456+00:00", utc(2026, 11, 25, 10, 0, 0, 123456000)},
		// str(datetime) and SQL: a space between date and time.
		{"2026-11-25 10:00:00", utc(2026, 11, 25, 10, 0, 0, 0)},
		{"2026-11-25 10:00:00.25+01:00", utc(2026, 11, 25, 9, 0, 0, 250000000)},

		{"", time.Time{}},
		{"2026-11-25", time.Time{}},
		{"2026-11-25T10:00", time.Time{}},
		{"2026-13-25T10:00:00Z", time.Time{}},
		{"2026-11-25T25:00:00", time.Time{}},
		{"2026-11-25T10:00:00+25:00", time.Time{}},
		{"2026-11-25X10:00:00", time.Time{}},
		{"2026-11-25T10:00:00 UTC", time.Time{}},
		{"1732528800", time.Time{}},
		{"2026-11-25T10:00:00.123456" + string(make([]byte, 60)), time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if tt.want.IsZero() {
			if err == nil {
				t.Errorf("ParseTime(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormatTimeAndDay(t *testing.T) {
	tm := time.Date(2026, 11, 25, 23, 30, 0, 123456000, time.FixedZone("X", -3600))
	if got, want := FormatTime(tm), "2026-11-26T00:30:00.123456Z"; got != want {
		t.Errorf("FormatTime = %q, want %q", got, want)
	}
	if got, want := Day(tm), "2026-11-26"; got != want {
		t.Errorf("Day = %q, want %q", got, want)
	}
	if got, err := ParseTime(FormatTime(tm)); err != nil || !got.Equal(tm) {
		t.Errorf("ParseTime(FormatTime(t)) = %v, %v, want %v", got, err, tm)
	}
}

func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTime("2026-11-25T10:00:00.123456"); err != nil {
			b.Fatal(err)
		}
	}
}
