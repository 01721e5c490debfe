package lake

import "github.com/akosha/akosha/lake/delta"

// SystemRange is the range of system_id values a data file holds, read from
// its add action's statistics. ok is false when the statistics do not bound
// it (no stats, or a file written without them): the file may hold any
// system. hi is "" when only the minimum is recorded (a max longer than the
// stats prefix is not written, as a cut max would be too low).
func SystemRange(a delta.Add) (lo, hi string, ok bool) {
	st, err := a.ParsedStats()
	if err != nil {
		return "", "", false
	}
	l, okLo := st.MinValues["system_id"].(string)
	if !okLo {
		return "", "", false
	}
	h, _ := st.MaxValues["system_id"].(string)
	return l, h, true
}

// MayHoldSystem reports whether a file can hold rows of system s.
func MayHoldSystem(a delta.Add, s string) bool {
	lo, hi, ok := SystemRange(a)
	return !ok || (s >= lo && (hi == "" || s <= hi))
}

// MayHoldAny reports whether a file can hold rows of any of systems; a nil
// set means every system.
func MayHoldAny(a delta.Add, systems map[string]bool) bool {
	if systems == nil {
		return true
	}
	lo, hi, ok := SystemRange(a)
	if !ok {
		return true
	}
	for s := range systems {
		if s >= lo && (hi == "" || s <= hi) {
			return true
		}
	}
	return false
}
