package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// Limits on record fields. The struct tags of Memory, Entity and Relation
// repeat some of them as literals (tags cannot name constants); the tests
// check each limit at its boundary, which keeps the two in step.
const (
	MaxSystemIDLen    = 100       // bytes; system ids are ASCII
	MaxIDLen          = 200       // characters
	MaxContentBytes   = 1 << 20   // bytes of memory content
	MaxLabelLen       = 200       // characters of project, namespace, session_id, kind-like labels
	MaxNameLen        = 1000      // characters of entity names and relation endpoints
	MaxTags           = 100       // tags per memory
	MaxTagLen         = 200       // characters per tag
	MaxObservations   = 1000      // observations per entity
	MaxObservationLen = 64 << 10  // characters per observation
	MaxObjectBytes    = 256 << 10 // bytes of metadata or properties JSON
)

// ValidationError says what is wrong with one field of a record.
type ValidationError struct {
	Field   string // JSON name, with an index for list elements: "tags[2]"
	Message string // human-readable, without the field name
}

func (e *ValidationError) Error() string {
	return e.Field + ": " + e.Message
}

// ValidationErrors is returned by Validate when more than one field is
// invalid. errors.As finds the first *ValidationError in it.
type ValidationErrors []*ValidationError

func (e ValidationErrors) Error() string {
	msgs := make([]string, len(e))
	for i, ve := range e {
		msgs[i] = ve.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e ValidationErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, ve := range e {
		errs[i] = ve
	}
	return errs
}

// validate is shared: a validator.Validate caches each struct's parsed tags and
// is safe for concurrent use.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report fields by their JSON names, which is what clients see.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// problems collects the invalid fields of one record.
type problems struct {
	list  ValidationErrors
	order map[string]int // field name -> position in the record's struct
}

func (p *problems) add(field, msg string) {
	p.list = append(p.list, &ValidationError{Field: field, Message: msg})
}

// check adds msg for field unless msg is empty or the field already has a
// problem: a missing id need not also be reported as a malformed one.
func (p *problems) check(field, msg string) {
	if msg == "" {
		return
	}
	for _, ve := range p.list {
		if ve.Field == field {
			return
		}
	}
	p.add(field, msg)
}

// tags runs the struct-tag rules on record and adds what they find.
func (p *problems) tags(record any) {
	p.order = fieldOrder(reflect.TypeOf(record).Elem())
	err := validate.Struct(record)
	if err == nil {
		return
	}
	var fieldErrs validator.ValidationErrors
	if !errors.As(err, &fieldErrs) {
		// Only a programming error (a non-struct) gets here.
		p.add("", fmt.Sprintf("cannot validate: %v", err))
		return
	}
	for _, fe := range fieldErrs {
		p.add(fe.Field(), tagMessage(fe))
	}
}

// tagMessage turns a struct-tag failure into a sentence.
func tagMessage(fe validator.FieldError) string {
	if f, ok := fe.Value().(float64); ok && math.IsNaN(f) {
		return "is not a number" // rather than "NaN is less than 0"
	}
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return fmt.Sprintf("%q is not one of %s", fe.Value(), strings.ReplaceAll(fe.Param(), " ", ", "))
	case "max":
		switch fe.Kind() {
		case reflect.String:
			return fmt.Sprintf("is longer than %s characters", fe.Param())
		case reflect.Slice:
			return fmt.Sprintf("has more than %s elements", fe.Param())
		}
		return fmt.Sprintf("%v is more than %s", fe.Value(), fe.Param())
	case "min":
		return fmt.Sprintf("%v is less than %s", fe.Value(), fe.Param())
	}
	return fmt.Sprintf("fails the %s=%s rule", fe.Tag(), fe.Param())
}

// SystemIDPattern is the syntax of a system id (and of a tenant name), as
// api/openapi.yaml states it; ValidSystemID tests it without a regexp.
const SystemIDPattern = `^[A-Za-z0-9_-]{1,100}$`

// ValidSystemID reports whether s matches SystemIDPattern: the one test
// every path that takes a system id from outside (records, filters, keys'
// scopes, tenant names) applies.
func ValidSystemID(s string) bool { return checkSystemID(s) == "" }

// checkSystemID enforces SystemIDPattern: a system id names a
// partition directory (system_id=...) in every table, on every backend.
func checkSystemID(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > MaxSystemIDLen {
		return fmt.Sprintf("is longer than %d characters", MaxSystemIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Sprintf("%q has the character %q (only letters, digits, '_' and '-' are allowed)", truncate(s, 40), rune(c))
		}
	}
	return ""
}

// checkID enforces the record id rules. Ids end up in object keys, URLs and
// SQL literals, so they are held to printable text without the characters
// that change meaning there: no '/' or '\' (path separators), no ".."
// (parent directory), no quotes or backquote (SQL and shell), no control or
// invisible format characters, no leading or trailing space. UUIDs, "mem_123",
// "conv:abc.def" and non-ASCII letters are all fine.
func checkID(s string) string {
	if s == "" {
		return "is required"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(s); n > MaxIDLen {
		return fmt.Sprintf("is longer than %d characters", MaxIDLen)
	}
	if s == "." {
		return `must not be "."`
	}
	if strings.Contains(s, "..") {
		return `must not contain ".."`
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return "must not begin or end with a space"
	}
	for _, r := range s {
		switch {
		case r == '/' || r == '\\' || r == '\'' || r == '"' || r == '`':
			return fmt.Sprintf("must not contain %q", r)
		case !unicode.IsPrint(r):
			// IsPrint admits letters, marks, numbers, punctuation, symbols
			// and ASCII space: no controls, other spaces, format characters
			// (zero-width, bidi overrides), private use or unassigned.
			return fmt.Sprintf("must not contain the non-printable character %U", r)
		}
	}
	return ""
}

// checkLabel checks a short text field (project, entity name, tag, ...):
// valid UTF-8 without control characters, which would garble the CSV, logs
// and terminals the value ends up in.
func checkLabel(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("must not contain the control character %U", r)
		}
	}
	return ""
}

// checkText checks free text (content, observations): valid UTF-8, since it
// is stored in Parquet UTF8 columns. Any character is allowed.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// checkObject checks metadata or properties: absent, or a JSON object of at
// most MaxObjectBytes. Each key becomes queryable with DuckDB's JSON
// functions, which is why scalars and arrays are refused.
func checkObject(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	if len(raw) > MaxObjectBytes {
		return fmt.Sprintf("is %d bytes of JSON, more than the limit of %d", len(raw), MaxObjectBytes)
	}
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	if !json.Valid(raw) {
		return "is not valid JSON"
	}
	if b := bytes.TrimLeft(raw, " \t\r\n"); b[0] != '{' {
		return "must be a JSON object"
	}
	return ""
}

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// checkList runs check on each element of a list field.
func (p *problems) checkList(field string, list []string, check func(string) string) {
	for i, s := range list {
		if msg := check(s); msg != "" {
			p.check(fmt.Sprintf("%s[%d]", field, i), msg)
		}
	}
}

// err returns the problems as an error: nil, a *ValidationError or
// ValidationErrors in the order of the record's fields.
func (p *problems) err() error {
	switch len(p.list) {
	case 0:
		return nil
	case 1:
		return p.list[0]
	}
	rank := func(field string) int {
		name, _, _ := strings.Cut(field, "[")
		return p.order[name]
	}
	slices.SortStableFunc(p.list, func(a, b *ValidationError) int {
		return rank(a.Field) - rank(b.Field)
	})
	return p.list
}

// fieldOrders caches fieldOrder per record type.
var fieldOrders sync.Map // reflect.Type -> map[string]int

// fieldOrder maps the JSON field names of struct type t to their positions.
func fieldOrder(t reflect.Type) map[string]int {
	if m, ok := fieldOrders.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = i
	}
	fieldOrders.Store(t, m)
	return m
}

// CheckSystemID returns why s is not a valid system_id, or "" when it is:
// the rule records are held to, for callers that name a system outside a
// record (a delete's filter, a URL).
func CheckSystemID(s string) string { return checkSystemID(s) }

// CheckID returns why s is not a valid record id, or "" when it is.
func CheckID(s string) string { return checkID(s) }
