package param

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func code(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return ""
	}
	return e.Code
}

// A name not allowed and a single value given twice are refused: a typo
// must not silently widen an answer.
func TestReadIsStrict(t *testing.T) {
	if _, err := Read(url.Values{"limt": {"3"}}, []string{"limit"}); code(err) != CodeInvalid {
		t.Errorf("unknown name: %v", err)
	}
	p, err := Read(url.Values{"limit": {"3", "4"}, "window": {" 30d "}}, []string{"limit", "window"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Int("limit", 1, 1, 10); code(err) != CodeInvalid {
		t.Errorf("repeated: %v", err)
	}
	if s, _ := p.One("window"); s != "30d" {
		t.Errorf("One trims: %q", s)
	}
	if !p.Has("window") || p.Has("end") {
		t.Error("Has")
	}
}

func TestValuesAreHeldToTheirRange(t *testing.T) {
	p, _ := Read(url.Values{
		"n": {"1.5"}, "x": {"NaN"}, "lo": {"0"}, "b": {"maybe"}, "e": {"sideways"},
		"system_id": {"a, b", "a", "c"}, "bad": {strings.Repeat("x", 200)},
	}, []string{"n", "x", "lo", "b", "e", "system_id", "bad", "absent"})
	if _, err := p.Int("n", 0, 1, 10); code(err) != "invalid_n" {
		t.Errorf("Int: %v", err)
	}
	if _, err := p.Number("x", 0, 0, 1, false); code(err) != "invalid_x" {
		t.Errorf("Number NaN: %v", err)
	}
	if _, err := p.Number("lo", 1, 0, 1, true); code(err) != "invalid_lo" {
		t.Errorf("Number open at lo: %v", err)
	}
	if _, err := p.Bool("b"); code(err) != "invalid_b" {
		t.Errorf("Bool: %v", err)
	}
	if _, err := p.Enum("e", "both", "in", "out", "both"); code(err) != "invalid_e" {
		t.Errorf("Enum: %v", err)
	}
	if n, err := p.Int("absent", 7, 1, 10); err != nil || n != 7 {
		t.Errorf("default: %d %v", n, err)
	}
	ids, err := p.SystemIDs()
	if err != nil || !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("SystemIDs: %v %v", ids, err)
	}
	if err := SystemID("a'b"); code(err) != CodeInvalidSystemID {
		t.Errorf("SystemID: %v", err)
	}
	_, err = p.Enum("bad", "", "y")
	var e *Error
	if !errors.As(err, &e) || len(e.Message) > 150 {
		t.Errorf("a refused value is quoted back truncated: %v", err)
	}
}

func TestLabel(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{"it's fine", 20, ""},
		{"ééé", 3, ""},
		{"ééé", 2, "invalid_name"}, // runes, not bytes, are counted
		{"a\x01b", 20, "invalid_name"},
		{"\xff", 20, "invalid_name"},
	} {
		if got := code(Label("name", c.s, c.max)); got != c.want {
			t.Errorf("Label(%q, %d) = %q, want %q", c.s, c.max, got, c.want)
		}
	}
}
