package sqlexec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// dtype describes a DuckDB type: enough to name it as DuckDB does, convert
// its values for JSON, and map it to Parquet. It is built from the driver's
// TypeInfo when a statement runs, and parsed back from Column.Type by the
// writers, so that a Result decoded from JSON (say, from a cache) can still
// be written as Parquet.
type dtype struct {
	kind   string   // canonical name: "INTEGER", "TIMESTAMP WITH TIME ZONE", "LIST", ...
	elem   *dtype   // LIST and ARRAY element
	size   int      // ARRAY size
	names  []string // STRUCT field and UNION member names
	fields []*dtype // STRUCT field and UNION member types
	key    *dtype   // MAP key
	value  *dtype   // MAP value
	width  int      // DECIMAL width
	scale  int      // DECIMAL scale
	enum   []string // ENUM values, when known
	// asText marks a type the driver cannot return (VARIANT, TIME_NS, a
	// future type): the statement casts it to VARCHAR, and it is reported
	// as VARCHAR.
	asText bool
}

// Kinds with special handling. Scalar kinds are spelled as DuckDB's typeof
// spells them.
const (
	kList        = "LIST"
	kArray       = "ARRAY"
	kStruct      = "STRUCT"
	kMap         = "MAP"
	kUnion       = "UNION"
	kDecimal     = "DECIMAL"
	kEnum        = "ENUM"
	kJSON        = "JSON"
	kTimestampTZ = "TIMESTAMP WITH TIME ZONE"
	kTimeTZ      = "TIME WITH TIME ZONE"
	kNull        = `"NULL"`
)

// scalarKinds maps the driver's type ids to DuckDB's names. Types not here
// (VARIANT, ANY, TIME_NS, ...) are read as VARCHAR.
var scalarKinds = map[duckdb.Type]string{
	duckdb.TYPE_BOOLEAN:      "BOOLEAN",
	duckdb.TYPE_TINYINT:      "TINYINT",
	duckdb.TYPE_SMALLINT:     "SMALLINT",
	duckdb.TYPE_INTEGER:      "INTEGER",
	duckdb.TYPE_BIGINT:       "BIGINT",
	duckdb.TYPE_UTINYINT:     "UTINYINT",
	duckdb.TYPE_USMALLINT:    "USMALLINT",
	duckdb.TYPE_UINTEGER:     "UINTEGER",
	duckdb.TYPE_UBIGINT:      "UBIGINT",
	duckdb.TYPE_HUGEINT:      "HUGEINT",
	duckdb.TYPE_UHUGEINT:     "UHUGEINT",
	duckdb.TYPE_BIGNUM:       "BIGNUM",
	duckdb.TYPE_FLOAT:        "FLOAT",
	duckdb.TYPE_DOUBLE:       "DOUBLE",
	duckdb.TYPE_VARCHAR:      "VARCHAR",
	duckdb.TYPE_BLOB:         "BLOB",
	duckdb.TYPE_DATE:         "DATE",
	duckdb.TYPE_TIME:         "TIME",
	duckdb.TYPE_TIME_TZ:      kTimeTZ,
	duckdb.TYPE_TIMESTAMP:    "TIMESTAMP",
	duckdb.TYPE_TIMESTAMP_S:  "TIMESTAMP_S",
	duckdb.TYPE_TIMESTAMP_MS: "TIMESTAMP_MS",
	duckdb.TYPE_TIMESTAMP_NS: "TIMESTAMP_NS",
	duckdb.TYPE_TIMESTAMP_TZ: kTimestampTZ,
	duckdb.TYPE_INTERVAL:     "INTERVAL",
	duckdb.TYPE_UUID:         "UUID",
	duckdb.TYPE_BIT:          "BIT",
	duckdb.TYPE_GEOMETRY:     "GEOMETRY",
	duckdb.TYPE_SQLNULL:      kNull,
}

// typeFromInfo converts the driver's description of a result column.
func typeFromInfo(info duckdb.TypeInfo) *dtype {
	if info == nil {
		return &dtype{kind: "VARCHAR"}
	}
	if info.Alias() == kJSON {
		return &dtype{kind: kJSON}
	}
	switch d := info.Details().(type) {
	case *duckdb.DecimalDetails:
		return &dtype{kind: kDecimal, width: int(d.Width), scale: int(d.Scale)}
	case *duckdb.EnumDetails:
		return &dtype{kind: kEnum, enum: d.Values}
	case *duckdb.ListDetails:
		return &dtype{kind: kList, elem: typeFromInfo(d.Child)}
	case *duckdb.ArrayDetails:
		return &dtype{kind: kArray, elem: typeFromInfo(d.Child), size: int(d.Size)}
	case *duckdb.MapDetails:
		return &dtype{kind: kMap, key: typeFromInfo(d.Key), value: typeFromInfo(d.Value)}
	case *duckdb.StructDetails:
		t := &dtype{kind: kStruct}
		for _, e := range d.Entries {
			t.names = append(t.names, e.Name())
			t.fields = append(t.fields, typeFromInfo(e.Info()))
		}
		return t
	case *duckdb.UnionDetails:
		t := &dtype{kind: kUnion}
		for _, m := range d.Members {
			t.names = append(t.names, m.Name)
			t.fields = append(t.fields, typeFromInfo(m.Type))
		}
		return t
	}
	if k, ok := scalarKinds[info.InternalType()]; ok {
		return &dtype{kind: k}
	}
	return &dtype{kind: "VARCHAR", asText: true}
}

// String returns the type as DuckDB's typeof names it.
func (t *dtype) String() string {
	var b strings.Builder
	t.write(&b, false)
	return b.String()
}

// castSQL returns the type the statement casts the column to so that the
// driver returns values this package converts faithfully: JSON is read as
// its text (the driver would decode it to float64 numbers and unordered
// maps), ENUM as VARCHAR (its values are strings anyway), and a MAP with a
// key the driver cannot use as a Go map key as VARCHAR.
func (t *dtype) castSQL() string {
	var b strings.Builder
	t.write(&b, true)
	return b.String()
}

// needsCast reports whether castSQL differs from the type itself.
func (t *dtype) needsCast() bool {
	if t.asText {
		return true
	}
	switch t.kind {
	case kJSON, kEnum:
		return true
	case kList, kArray:
		return t.elem.needsCast()
	case kMap:
		return !t.key.scalarKey() || t.key.needsCast() || t.value.needsCast()
	case kStruct, kUnion:
		for _, f := range t.fields {
			if f.needsCast() {
				return true
			}
		}
	}
	return false
}

// scalarKey reports whether the driver can use values of t as map keys.
func (t *dtype) scalarKey() bool {
	switch t.kind {
	case kList, kArray, kMap, kStruct, kUnion, kJSON, "BLOB", "GEOMETRY", "UUID", "BIT", "INTERVAL":
		return false
	}
	return true
}

// text reports whether values of t arrive as text after castSQL.
func (t *dtype) textual() bool {
	return t.kind == kJSON || t.kind == kEnum || (t.kind == kMap && !t.key.scalarKey())
}

func (t *dtype) write(b *strings.Builder, cast bool) {
	switch {
	case cast && t.kind == kJSON, cast && t.kind == kEnum, cast && t.kind == kMap && !t.key.scalarKey():
		b.WriteString("VARCHAR")
	case t.kind == kList:
		t.elem.write(b, cast)
		b.WriteString("[]")
	case t.kind == kArray:
		t.elem.write(b, cast)
		b.WriteString("[" + strconv.Itoa(t.size) + "]")
	case t.kind == kMap:
		b.WriteString("MAP(")
		t.key.write(b, cast)
		b.WriteString(", ")
		t.value.write(b, cast)
		b.WriteString(")")
	case t.kind == kStruct || t.kind == kUnion:
		b.WriteString(t.kind + "(")
		for i, f := range t.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			if cast || !plainName.MatchString(t.names[i]) {
				b.WriteString(quoteIdent(t.names[i]))
			} else {
				b.WriteString(t.names[i])
			}
			b.WriteByte(' ')
			f.write(b, cast)
		}
		b.WriteString(")")
	case t.kind == kDecimal:
		fmt.Fprintf(b, "DECIMAL(%d,%d)", t.width, t.scale)
	case t.kind == kEnum && t.enum != nil:
		b.WriteString("ENUM(")
		for i, v := range t.enum {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Quote(v))
		}
		b.WriteString(")")
	case knownKind(t.kind) || plainKind.MatchString(t.kind):
		b.WriteString(t.kind)
	default:
		// A type name parsed from quotes, kept parseable.
		b.WriteString(quoteIdent(t.kind))
	}
}

// plainKind matches type names that need no quotes.
var plainKind = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func knownKind(k string) bool {
	for _, v := range scalarKinds {
		if v == k {
			return true
		}
	}
	return k == kJSON
}

// plainName matches field names DuckDB writes without quotes.
var plainName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// typeAliases maps other spellings DuckDB accepts to the canonical names.
var typeAliases = map[string]string{
	"BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
	"INT1": "TINYINT", "INT2": "SMALLINT", "SHORT": "SMALLINT",
	"INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER",
	"INT8": "BIGINT", "LONG": "BIGINT", "INT128": "HUGEINT", "UINT128": "UHUGEINT",
	"UINT8": "UTINYINT", "UINT16": "USMALLINT", "UINT32": "UINTEGER", "UINT64": "UBIGINT",
	"FLOAT4": "FLOAT", "REAL": "FLOAT", "FLOAT8": "DOUBLE",
	"STRING": "VARCHAR", "TEXT": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR",
	"BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
	"DATETIME": "TIMESTAMP", "TIMESTAMPTZ": kTimestampTZ, "TIMETZ": kTimeTZ,
	"NUMERIC": kDecimal, "NULL": kNull, "VARINT": "BIGNUM", "BITSTRING": "BIT",
}

// parseType parses a type name as String writes it (and the common DuckDB
// aliases). Unknown names parse as themselves and are treated as text.
func parseType(s string) (*dtype, error) {
	p := &typeParser{s: s}
	t, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("type %q: unexpected %q", s, p.s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

// maxTypeDepth bounds nesting, so that a hostile type string cannot
// exhaust the stack.
const maxTypeDepth = 64

func (p *typeParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *typeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("type %q at %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

// word reads an identifier, quoted or not.
func (p *typeParser) word() (string, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			p.i++
			if c == '"' {
				if p.i < len(p.s) && p.s[p.i] == '"' {
					b.WriteByte('"')
					p.i++
					continue
				}
				return b.String(), nil
			}
			b.WriteByte(c)
		}
		return "", p.errorf("unterminated quoted name")
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ' ' || c == '(' || c == ')' || c == '[' || c == ']' || c == ',' {
			break
		}
		p.i++
	}
	if start == p.i {
		return "", p.errorf("name expected")
	}
	return p.s[start:p.i], nil
}

func (p *typeParser) number() (int, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || n < 0 || n > 1<<24 {
		return 0, p.errorf("number expected")
	}
	return n, nil
}

func (p *typeParser) parse(depth int) (*dtype, error) {
	if depth > maxTypeDepth {
		return nil, p.errorf("nested too deeply")
	}
	name, err := p.word()
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, p.errorf("empty type name")
	}
	upper := strings.ToUpper(name)
	if a, ok := typeAliases[upper]; ok {
		upper = a
	}
	var t *dtype
	switch upper {
	case kStruct, kUnion:
		t = &dtype{kind: upper}
		if !p.eat('(') {
			return nil, p.errorf("( expected")
		}
		for {
			fname, err := p.word()
			if err != nil {
				return nil, err
			}
			ft, err := p.parse(depth + 1)
			if err != nil {
				return nil, err
			}
			t.names = append(t.names, fname)
			t.fields = append(t.fields, ft)
			if p.eat(')') {
				break
			}
			if !p.eat(',') {
				return nil, p.errorf(", or ) expected")
			}
		}
	case kMap:
		if !p.eat('(') {
			return nil, p.errorf("( expected")
		}
		k, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.eat(',') {
			return nil, p.errorf(", expected")
		}
		v, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.eat(')') {
			return nil, p.errorf(") expected")
		}
		t = &dtype{kind: kMap, key: k, value: v}
	case kDecimal:
		t = &dtype{kind: kDecimal, width: 18, scale: 3}
		if p.eat('(') {
			if t.width, err = p.number(); err != nil {
				return nil, err
			}
			t.scale = 0
			if p.eat(',') {
				if t.scale, err = p.number(); err != nil {
					return nil, err
				}
			}
			if !p.eat(')') {
				return nil, p.errorf(") expected")
			}
		}
	case kEnum:
		t = &dtype{kind: kEnum}
		if p.eat('(') {
			if err := p.skipParens(); err != nil {
				return nil, err
			}
		}
	case "TIMESTAMP", "TIME":
		t = &dtype{kind: upper}
		save := p.i
		if w, err := p.words(3); err == nil && strings.EqualFold(w, "WITH TIME ZONE") {
			t.kind += " WITH TIME ZONE"
		} else {
			p.i = save
		}
	default:
		t = &dtype{kind: upper}
		if upper == "VARCHAR" && p.eat('(') { // VARCHAR(n): the length means nothing in DuckDB
			if err := p.skipParens(); err != nil {
				return nil, err
			}
		}
	}
	for {
		if !p.eat('[') {
			return t, nil
		}
		if p.eat(']') {
			t = &dtype{kind: kList, elem: t}
			continue
		}
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		if !p.eat(']') {
			return nil, p.errorf("] expected")
		}
		t = &dtype{kind: kArray, elem: t, size: n}
	}
}

// words reads n space-separated words.
func (p *typeParser) words(n int) (string, error) {
	parts := make([]string, 0, n)
	for range n {
		w, err := p.word()
		if err != nil {
			return "", err
		}
		parts = append(parts, w)
	}
	return strings.Join(parts, " "), nil
}

// skipParens skips to the ) that closes an already consumed (, stepping
// over quoted strings.
func (p *typeParser) skipParens() error {
	depth := 1
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\'':
			for p.i < len(p.s) {
				c := p.s[p.i]
				p.i++
				if c == '\'' {
					if p.i < len(p.s) && p.s[p.i] == '\'' {
						p.i++
						continue
					}
					break
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
	return p.errorf("unbalanced parentheses")
}
