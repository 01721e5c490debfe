package sqlresult

import (
	"encoding/json"
	"fmt"
)

// Row reads the converted values of one Result row (see Result.Rows) for
// the statements the query function writes itself and reads back
// (analytics, the knowledge graph): numbers as float64, NULL as absent. A
// column out of the row reads as NULL, so a statement that changed shape
// is a wrong answer, not a crash.
type Row []any

func (r Row) at(i int) any {
	if i < 0 || i >= len(r) {
		return nil
	}
	return r[i]
}

// Text is column i as text: a string as it is, NULL as "", anything else
// printed.
func (r Row) Text(i int) string {
	switch v := r.at(i).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// OptFloat is column i as a number, nil when it is NULL or not a finite
// number.
func (r Row) OptFloat(i int) *float64 {
	x, ok := toFloat(r.at(i))
	if !ok {
		return nil
	}
	return &x
}

// Float is column i as a number, 0 when it is NULL or not a finite number.
func (r Row) Float(i int) float64 {
	x, _ := toFloat(r.at(i))
	return x
}

// Floats is column i, a list, as numbers; an element that is not a number
// reads as 0, a column that is not a list as nil.
func (r Row) Floats(i int) []float64 {
	switch x := r.at(i).(type) {
	case []float64:
		return x
	case []float32:
		out := make([]float64, len(x))
		for j, v := range x {
			out[j] = float64(v)
		}
		return out
	case []any:
		out := make([]float64, 0, len(x))
		for _, v := range x {
			f, _ := toFloat(v)
			out = append(out, f)
		}
		return out
	}
	return nil
}

// Strings is column i, a list, as its strings; other elements are left
// out, and a column that is not a list reads as nil.
func (r Row) Strings(i int) []string {
	list, ok := r.at(i).([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Bool is column i as a boolean, false when it is NULL.
func (r Row) Bool(i int) bool {
	b, _ := r.at(i).(bool)
	return b
}

// Null reports whether column i is NULL.
func (r Row) Null(i int) bool { return r.at(i) == nil }

// JSON is column i as JSON: a JSON column's value as it was stored, a
// string as a JSON string, NULL as nil.
func (r Row) JSON(i int) json.RawMessage {
	switch x := r.at(i).(type) {
	case json.RawMessage:
		return x
	case nil:
		return nil
	case string:
		b, _ := json.Marshal(x)
		return b
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		return b
	}
}

// toFloat reads a converted numeric value; NaN and infinities (which the
// engine writes as strings) and NULL are not numbers.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
