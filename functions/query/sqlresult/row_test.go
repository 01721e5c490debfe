package sqlresult

import (
	"encoding/json"
	"slices"
	"testing"
)

// Row reads the converted values the engine gives; a column it does not
// have, or of another type, reads as NULL rather than panicking.
func TestRowReadsConvertedValues(t *testing.T) {
	r := Row{"a", int64(3), json.Number("2.5"), "NaN", nil, []any{1.5, "x", int64(2)}, []any{"o1", 7, "o2"},
		true, json.RawMessage(`{"k":1}`), []float32{1, 2}}
	if r.Text(0) != "a" || r.Text(1) != "3" || r.Text(4) != "" || r.Text(99) != "" {
		t.Errorf("Text: %q %q %q %q", r.Text(0), r.Text(1), r.Text(4), r.Text(99))
	}
	if r.Float(1) != 3 || r.Float(2) != 2.5 || r.Float(0) != 0 || r.Float(-1) != 0 {
		t.Errorf("Float: %v %v %v", r.Float(1), r.Float(2), r.Float(0))
	}
	if r.OptFloat(3) != nil || r.OptFloat(4) != nil || r.OptFloat(1) == nil || *r.OptFloat(1) != 3 {
		t.Error("OptFloat: NaN and NULL are not numbers, 3 is")
	}
	if got := r.Floats(5); !slices.Equal(got, []float64{1.5, 0, 2}) {
		t.Errorf("Floats of a list: %v", got)
	}
	if got := r.Floats(9); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("Floats of float32s: %v", got)
	}
	if r.Floats(0) != nil || r.Strings(0) != nil {
		t.Error("a column that is not a list reads as nil")
	}
	if got := r.Strings(6); !slices.Equal(got, []string{"o1", "o2"}) {
		t.Errorf("Strings: %v", got)
	}
	if !r.Bool(7) || r.Bool(0) || !r.Null(4) || !r.Null(42) || r.Null(0) {
		t.Error("Bool or Null")
	}
	if string(r.JSON(8)) != `{"k":1}` || string(r.JSON(0)) != `"a"` || r.JSON(4) != nil {
		t.Errorf("JSON: %s %s %s", r.JSON(8), r.JSON(0), r.JSON(4))
	}
}

func TestQuote(t *testing.T) {
	if got := QuoteAll([]string{"a", "it's"}); got != `'a', 'it''s'` {
		t.Errorf("QuoteAll: %s", got)
	}
}
