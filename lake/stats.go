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
// none. It runs on ingest's path for every row, so the accumulators are a
// slice in the order the row names its columns, not maps.
func stringStatsOf[R any](rows []R) *StringStats {
	if len(rows) == 0 {
		return nil
	}
	if _, ok := any(&rows[0]).(statStringer); !ok {
		return nil
	}
	type acc struct {
		col, min, max string
		nulls         int64
		seen          bool
	}
	var accs []acc
	i := 0
	add := func(col string, v *string) {
		if i == len(accs) {
			accs = append(accs, acc{col: col})
		}
		a := &accs[i]
		i++
		switch {
		case v == nil:
			a.nulls++
		case !a.seen:
			a.min, a.max, a.seen = *v, *v, true
		case *v < a.min:
			a.min = *v
		case *v > a.max:
			a.max = *v
		}
	}
	for r := range rows {
		i = 0
		any(&rows[r]).(statStringer).StatStrings(add)
	}
	s := &StringStats{Min: map[string]string{}, Max: map[string]string{}, Nulls: map[string]int64{}}
	for _, a := range accs {
		s.Nulls[a.col] = a.nulls
		if !a.seen {
			continue
		}
		s.Min[a.col] = cut(a.min)
		if len(a.max) <= statPrefix {
			s.Max[a.col] = a.max
		}
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
