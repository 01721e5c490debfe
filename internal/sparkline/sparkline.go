// Package sparkline draws small text charts for the terminal: a sparkline of
// a series (▁▂▃▄▅▆▇█) and a horizontal bar of a fraction. The CLI prints them
// only on a terminal; pipes get plain numbers.
package sparkline

import (
	"math"
	"strings"
)

// levels are the eight block heights, lowest first.
var levels = []rune("▁▂▃▄▅▆▇█")

// Line draws one character per value, scaled from the series' minimum
// (▁) to its maximum (█). The scale starts at zero when every value is
// non-negative, so that a count series keeps its proportions: 10 and 11 are
// two tall bars, not a floor and a ceiling, and a constant positive series
// is a row of full blocks. All zeros (or one repeated negative value) is
// drawn at the bottom; NaN and infinite values are drawn as spaces.
func Line(values []float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if lo > 0 {
		lo = 0
	}
	var b strings.Builder
	for _, v := range values {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(levels[0])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(len(levels)-1)))
			b.WriteRune(levels[max(0, min(len(levels)-1, i))])
		}
	}
	return b.String()
}

// Resample shrinks values to at most width points by averaging consecutive
// runs (the first runs take the extra points), so a long series fits a
// terminal line. A width below 1, or a series that already fits, is
// returned as it is.
func Resample(values []float64, width int) []float64 {
	if width < 1 || len(values) <= width {
		return values
	}
	out := make([]float64, width)
	n := len(values)
	start := 0
	for i := range width {
		size := n / width
		if i < n%width {
			size++
		}
		sum := 0.0
		for _, v := range values[start : start+size] {
			sum += v
		}
		out[i] = sum / float64(size)
		start += size
	}
	return out
}

// partial are the eighth-width blocks of a bar's last cell.
var partial = []rune(" ▏▎▍▌▋▊▉")

// Bar draws frac (clamped to 0..1) of width cells with eighth-cell
// resolution, padded with spaces to width.
func Bar(frac float64, width int) string {
	if width < 1 {
		return ""
	}
	if math.IsNaN(frac) {
		frac = 0
	}
	frac = math.Max(0, math.Min(1, frac))
	eighths := int(math.Round(frac * float64(width) * 8))
	full, rest := eighths/8, eighths%8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", full))
	cells := full
	if rest > 0 {
		b.WriteRune(partial[rest])
		cells++
	}
	b.WriteString(strings.Repeat(" ", width-cells))
	return b.String()
}
