// Package param reads the query parameters of the query function's GET
// answers (analytics, the knowledge graph, erasures) and of the MCP tools
// that take the same parameters, strictly: an unknown name or a repeated
// single-valued one is refused, so that a typo never silently widens an
// answer, and every value is held to its type and range before anything
// reads it.
//
// It speaks no HTTP: a refusal is an *Error with the API's stable code,
// which the query function answers as a 400.
package param

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/akosha/akosha/schemas"
)

// Error codes shared by the readers of parameters; the others are
// "invalid_" and the parameter's name.
const (
	CodeInvalid         = "invalid_parameter"
	CodeInvalidSystemID = "invalid_system_id"
	CodeMissing         = "missing_parameter"
)

// MaxValues bounds the values of one list parameter (system ids, kinds,
// relation types): each becomes an SQL literal.
const MaxValues = 1000

// Error is a parameter refused. Code is the API's stable error code
// (invalid_limit, invalid_system_id, ...), Message says what is wrong and
// is shown to the client as it is.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Invalid returns the *Error of a refused parameter.
func Invalid(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Truncate shortens s to n bytes for a message, marking the cut: a refused
// value is quoted back, and it may be large.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Values are query parameters read strictly.
type Values struct {
	v url.Values
}

// Read returns v's reader, refusing a name not in allowed.
func Read(v url.Values, allowed []string) (Values, error) {
	for name := range v {
		if !slices.Contains(allowed, name) {
			return Values{}, Invalid(CodeInvalid, "unknown parameter %q (this takes %s)", Truncate(name, 60), strings.Join(allowed, ", "))
		}
	}
	return Values{v: v}, nil
}

// Has reports whether the parameter name was given, even empty.
func (p Values) Has(name string) bool {
	_, ok := p.v[name]
	return ok
}

// One returns a single-valued parameter, "" when absent.
func (p Values) One(name string) (string, error) {
	vals := p.v[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	}
	return "", Invalid(CodeInvalid, "%s is given %d times; give it once", name, len(vals))
}

// List returns a list parameter, repeated or comma-separated.
func (p Values) List(name string) []string {
	var out []string
	for _, v := range p.v[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Enum returns one of allowed, def when absent.
func (p Values) Enum(name, def string, allowed ...string) (string, error) {
	s, err := p.One(name)
	if err != nil || s == "" {
		return def, err
	}
	if !slices.Contains(allowed, s) {
		return "", Invalid("invalid_"+name, "%s %q: want %s", name, Truncate(s, 60), strings.Join(allowed, ", "))
	}
	return s, nil
}

// Int returns a whole number in [lo, hi], def when absent.
func (p Values) Int(name string, def, lo, hi int) (int, error) {
	s, err := p.One(name)
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, Invalid("invalid_"+name, "%s %q: want a whole number from %d to %d", name, Truncate(s, 60), lo, hi)
	}
	return n, nil
}

// Number reads a finite float in [lo, hi] (open at lo when openLo), def
// when absent.
func (p Values) Number(name string, def, lo, hi float64, openLo bool) (float64, error) {
	s, err := p.One(name)
	if err != nil || s == "" {
		return def, err
	}
	x, err := strconv.ParseFloat(s, 64)
	bad := err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi || (openLo && x == lo)
	if bad {
		interval := "["
		if openLo {
			interval = "("
		}
		return 0, Invalid("invalid_"+name, "%s %q: want a number in %s%g, %g]", name, Truncate(s, 60), interval, lo, hi)
	}
	return x, nil
}

// Bool returns a boolean, false when absent.
func (p Values) Bool(name string) (bool, error) {
	s, err := p.One(name)
	if err != nil || s == "" {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, Invalid("invalid_"+name, "%s %q: want true or false", name, Truncate(s, 60))
	}
	return b, nil
}

// SystemIDs reads system_id values, sorted and without repeats, each held
// to the schemas' pattern: they become SQL literals and partition names.
func (p Values) SystemIDs() ([]string, error) {
	ids := p.List("system_id")
	if len(ids) > MaxValues {
		return nil, Invalid(CodeInvalidSystemID, "at most %d system ids", MaxValues)
	}
	for _, id := range ids {
		if err := SystemID(id); err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// SystemID refuses a system id the schemas would not store.
func SystemID(id string) error {
	if !schemas.ValidSystemID(id) {
		return Invalid(CodeInvalidSystemID, "system_id %q: only letters, digits, '_' and '-', 1 to 100 of them", Truncate(id, 60))
	}
	return nil
}

// Label holds free text (a project, an entity name) to what the schemas
// store: valid UTF-8 without control characters, at most maxRunes. Quotes
// are legal in such names; they reach SQL only as quoted literals.
func Label(name, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return Invalid("invalid_"+name, "%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return Invalid("invalid_"+name, "%s is longer than %d characters", name, maxRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Invalid("invalid_"+name, "%s must not contain the control character %U", name, r)
		}
	}
	return nil
}
