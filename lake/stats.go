package lake

import "unicode/utf8"

// statPrefix is how many bytes of a string a min or max keeps (Delta
// writers cut long values; Spark's default is 32 characters).
const statPrefix = 32

// StringStats are a file's min, max and null count of some string columns.
// A min longer than statPrefix is cut (a prefix is still a lower bound); a
// column whose max is longer records no max, since a cut one would be
// below the true max and make a reader skip a file it needs.
type StringStats struct {
	Min, Max map[string]string
	Nulls    map[string]int64
}

// statStringer is a row type that names its recorded string columns
// (schemas' rows).
type statStringer interface {
	StatStrings(fn func(col string, v *string))
}

// stringStatsOf computes the stats of rows; nil when the row type records
// none.
func stringStatsOf[R any](rows []R) *StringStats {
	if len(rows) == 0 {
		return nil
	}
	if _, ok := any(&rows[0]).(statStringer); !ok {
		return nil
	}
	s := &StringStats{Min: map[string]string{}, Max: map[string]string{}, Nulls: map[string]int64{}}
	noMax := map[string]bool{}
	seen := map[string]bool{}
	for i := range rows {
		any(&rows[i]).(statStringer).StatStrings(func(col string, v *string) {
			if _, ok := s.Nulls[col]; !ok {
				s.Nulls[col] = 0
			}
			if v == nil {
				s.Nulls[col]++
				return
			}
			if !seen[col] || *v < s.Min[col] {
				s.Min[col] = *v
			}
			if !seen[col] || *v > s.Max[col] {
				s.Max[col] = *v
			}
			seen[col] = true
		})
	}
	for col, v := range s.Min {
		s.Min[col] = cut(v)
	}
	for col, v := range s.Max {
		if len(v) > statPrefix {
			noMax[col] = true
		}
	}
	for col := range noMax {
		delete(s.Max, col)
	}
	return s
}

// cut keeps at most statPrefix bytes of s, on a rune boundary.
func cut(s string) string {
	if len(s) <= statPrefix {
		return s
	}
	n := statPrefix
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
