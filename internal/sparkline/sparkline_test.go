package sparkline

import (
	"math"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want string
	}{
		{"ramp", []float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"counts keep zero as the floor", []float64{10, 11}, "▇█"},
		{"negative values span the range", []float64{-7, 0, 7}, "▁▅█"},
		{"flat zero", []float64{0, 0, 0}, "▁▁▁"},
		{"flat non-zero", []float64{5, 5}, "██"},
		{"flat negative", []float64{-2, -2}, "▁▁"},
		{"one point", []float64{3}, "█"},
		{"gaps", []float64{0, math.NaN(), 7, math.Inf(1)}, "▁ █ "},
		{"empty", nil, ""},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("%s: Line(%v) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestResample(t *testing.T) {
	in := []float64{1, 2, 3, 4, 5, 6, 7}
	if got := Resample(in, 3); !slices.Equal(got, []float64{2, 4.5, 6.5}) { // (1+2+3)/3, (4+5)/2, (6+7)/2
		t.Errorf("Resample = %v", got)
	}
	if got := Resample(in, 10); !slices.Equal(got, in) {
		t.Errorf("a series that fits changed: %v", got)
	}
	if got := Resample(in, 0); !slices.Equal(got, in) {
		t.Errorf("width 0 changed the series: %v", got)
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		frac  float64
		width int
		want  string
	}{
		{1, 4, "████"},
		{0, 4, "    "},
		{0.5, 4, "██  "},
		{0.53125, 4, "██▏ "}, // 17 eighths
		{2, 3, "███"},
		{-1, 3, "   "},
		{math.NaN(), 2, "  "},
		{0.5, 0, ""},
	} {
		got := Bar(c.frac, c.width)
		if got != c.want {
			t.Errorf("Bar(%v, %d) = %q, want %q", c.frac, c.width, got, c.want)
		}
		if utf8.RuneCountInString(got) != max(c.width, 0) {
			t.Errorf("Bar(%v, %d) is %d cells", c.frac, c.width, utf8.RuneCountInString(got))
		}
	}
}
