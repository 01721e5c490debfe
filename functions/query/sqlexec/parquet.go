package sqlexec

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// WriteParquet writes res as a Parquet file with one optional column per
// result column, in order, typed after Column.Type: integers, floats,
// DECIMAL, DATE, TIME, timestamps (TIMESTAMP WITH TIME ZONE as
// isAdjustedToUTC), UUID, JSON, BLOB and strings map to their Parquet
// logical types; lists and arrays become LISTs (Parquet has no fixed-size
// list, so FLOAT[384] reads back as FLOAT[]), STRUCTs groups, MAPs MAPs;
// HUGEINT becomes DECIMAL(38,0) (a value beyond 38 digits is an error:
// cast it in the statement); UHUGEINT, BIGNUM, INTERVAL, TIME WITH TIME
// ZONE, UNION and unknown types become strings. Repeated column names get
// a suffix (see uniqueNames).
//
// It works from the Result alone, whether Exec made it or it was decoded
// from JSON, so the rows are taken as either form (see convert).
//
// The file is built with parquet-go rather than by DuckDB's COPY: COPY is
// exactly what the sandbox forbids, and writing through it would need a
// directory DuckDB may write to, which a guard bug would then expose.
func WriteParquet(w io.Writer, res *Result) error {
	names := uniqueNames(res.Columns)
	cols := make([]*pcol, len(res.Columns))
	fields := make([]parquet.Field, len(res.Columns))
	next := 0
	for i, c := range res.Columns {
		t, err := parseType(c.Type)
		if err != nil {
			t = &dtype{kind: "VARCHAR"} // an unreadable type: keep the values as text
		}
		p, node := buildColumn(t, 0, 0, false, &next)
		cols[i] = p
		fields[i] = namedField{Node: node, name: names[i]}
	}
	if next > parquet.MaxColumnIndex {
		return fmt.Errorf("sqlexec: write Parquet: %d leaf columns; the limit is %d", next, parquet.MaxColumnIndex)
	}
	schema := parquet.NewSchema("result", &orderedGroup{fields: fields})
	pw := parquet.NewWriter(w, schema,
		parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("akosha", "", ""),
	)

	// Rows go out in batches so a big result is not shredded at once.
	const batch = 1024
	out := make([][]parquet.Value, next)
	rows := make([]parquet.Row, 0, batch)
	for r, row := range res.Rows {
		if len(row) != len(cols) {
			return fmt.Errorf("sqlexec: write Parquet: row %d has %d values for %d columns", r, len(row), len(cols))
		}
		for i := range out {
			out[i] = out[i][:0]
		}
		for i, v := range row {
			if err := cols[i].write(v, 0, out); err != nil {
				return fmt.Errorf("sqlexec: write Parquet: row %d, column %s: %w", r, names[i], err)
			}
		}
		var pr parquet.Row
		for _, vs := range out {
			pr = append(pr, vs...)
		}
		rows = append(rows, pr)
		if len(rows) == batch {
			if _, err := pw.WriteRows(rows); err != nil {
				return fmt.Errorf("sqlexec: write Parquet: %w", err)
			}
			rows = rows[:0]
		}
	}
	if len(rows) > 0 {
		if _, err := pw.WriteRows(rows); err != nil {
			return fmt.Errorf("sqlexec: write Parquet: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("sqlexec: write Parquet: %w", err)
	}
	return nil
}

// pcol shreds the values of one schema node into its leaf columns, with
// the repetition and definition levels of the Dremel encoding.
type pcol struct {
	kind     int
	conv     func(any) (parquet.Value, error) // leaves
	children []*pcol                          // struct fields; list element; map key and value
	names    []string                         // struct field names
	col      int                              // leaf column index
	first    int                              // first leaf column under the node
	last     int                              // one past the last
	def      int                              // definition level of a present value
	rep      int                              // lists and maps: repetition level of their entries
	required bool
}

const (
	pLeaf = iota
	pList
	pStruct
	pMap
)

// buildColumn builds the shredder and schema node of a value of type t
// whose parent is present at definition level def, inside rep repeated
// ancestors. Every node is optional except map keys.
func buildColumn(t *dtype, def, rep int, required bool, next *int) (*pcol, parquet.Node) {
	p := &pcol{first: *next, def: def + 1, required: required}
	if required {
		p.def = def
	}
	var node parquet.Node
	switch t.kind {
	case kList, kArray:
		p.kind, p.rep = pList, rep+1
		// Present list: def+1; present entry (repeated group): def+2.
		elem, en := buildColumn(t.elem, p.def+1, p.rep, false, next)
		p.children = []*pcol{elem}
		node = parquet.List(en)
	case kMap:
		p.kind, p.rep = pMap, rep+1
		k, kn := buildColumn(t.key, p.def+1, p.rep, true, next)
		v, vn := buildColumn(t.value, p.def+1, p.rep, false, next)
		p.children = []*pcol{k, v}
		node = parquet.Map(kn, vn)
	case kStruct:
		p.kind = pStruct
		fields := make([]parquet.Field, len(t.fields))
		for i, ft := range t.fields {
			c, fn := buildColumn(ft, p.def, rep, false, next)
			p.children = append(p.children, c)
			p.names = append(p.names, t.names[i])
			fields[i] = namedField{Node: fn, name: t.names[i]}
		}
		node = &orderedGroup{fields: fields}
	default:
		p.kind, p.col = pLeaf, *next
		*next++
		node, p.conv = leafOf(t)
	}
	p.last = *next
	if required {
		return p, parquet.Required(node)
	}
	return p, parquet.Optional(node)
}

// write appends v's values, the first at repetition level r.
func (p *pcol) write(v any, r int, out [][]parquet.Value) error {
	if v == nil || isJSONNull(v) {
		if p.required {
			return errors.New("null map key")
		}
		p.nulls(r, p.def-1, out)
		return nil
	}
	switch p.kind {
	case pLeaf:
		val, err := p.conv(v)
		if err != nil {
			return err
		}
		out[p.col] = append(out[p.col], val.Level(r, p.def, p.col))
	case pStruct:
		obj, err := asObject(v)
		if err != nil {
			return err
		}
		for i, c := range p.children {
			if err := c.write(obj[p.names[i]], r, out); err != nil {
				return fmt.Errorf("%s: %w", p.names[i], err)
			}
		}
	case pList:
		items, err := asList(v)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			p.nulls(r, p.def, out) // present and empty
			return nil
		}
		for i, it := range items {
			rr := r
			if i > 0 {
				rr = p.rep
			}
			if err := p.children[0].write(it, rr, out); err != nil {
				return err
			}
		}
	case pMap:
		keys, vals, err := asEntries(v)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			p.nulls(r, p.def, out)
			return nil
		}
		for i := range keys {
			rr := r
			if i > 0 {
				rr = p.rep
			}
			if err := p.children[0].write(keys[i], rr, out); err != nil {
				return err
			}
			if err := p.children[1].write(vals[i], rr, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// nulls writes one null at definition level d to every leaf under p.
func (p *pcol) nulls(r, d int, out [][]parquet.Value) {
	for c := p.first; c < p.last; c++ {
		out[c] = append(out[c], parquet.Value{}.Level(r, d, c))
	}
}

func isJSONNull(v any) bool {
	raw, ok := v.(json.RawMessage)
	return ok && strings.TrimSpace(string(raw)) == "null"
}

// asObject accepts a STRUCT value as Exec makes it (a JSON object's text)
// or as JSON decoding makes it (a map).
func asObject(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case json.RawMessage:
		var m map[string]any
		if err := decodeJSON(x, &m); err != nil {
			return nil, fmt.Errorf("struct value: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("struct value of type %T", v)
}

// asEntries is asObject for MAP values, keeping the entry order.
func asEntries(v any) (keys, vals []any, err error) {
	switch x := v.(type) {
	case map[string]any:
		// Decoding lost the entry order; sorted keys at least make the
		// file deterministic.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			keys, vals = append(keys, k), append(vals, x[k])
		}
		return keys, vals, nil
	case json.RawMessage:
		dec := json.NewDecoder(strings.NewReader(string(x)))
		dec.UseNumber()
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil, nil, errors.New("map value is not a JSON object")
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, nil, fmt.Errorf("map value: %w", err)
			}
			var val any
			if err := dec.Decode(&val); err != nil {
				return nil, nil, fmt.Errorf("map value: %w", err)
			}
			keys, vals = append(keys, t), append(vals, val)
		}
		return keys, vals, nil
	}
	return nil, nil, fmt.Errorf("map value of type %T", v)
}

// asList accepts any slice but bytes.
func asList(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case json.RawMessage:
		var items []any
		if err := decodeJSON(x, &items); err != nil {
			return nil, fmt.Errorf("list value: %w", err)
		}
		return items, nil
	case []byte, string:
		return nil, fmt.Errorf("list value of type %T", v)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("list value of type %T", v)
	}
	items := make([]any, rv.Len())
	for i := range items {
		items[i] = rv.Index(i).Interface()
	}
	return items, nil
}

func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	return dec.Decode(v)
}

// leafOf returns the Parquet node of a scalar type and the conversion of
// its values.
func leafOf(t *dtype) (parquet.Node, func(any) (parquet.Value, error)) {
	switch t.kind {
	case "BOOLEAN":
		return parquet.Leaf(parquet.BooleanType), convBool
	case "TINYINT":
		return parquet.Int(8), convInt(math.MinInt8, math.MaxInt8, false)
	case "SMALLINT":
		return parquet.Int(16), convInt(math.MinInt16, math.MaxInt16, false)
	case "INTEGER":
		return parquet.Int(32), convInt(math.MinInt32, math.MaxInt32, false)
	case "BIGINT":
		return parquet.Int(64), convInt(math.MinInt64, math.MaxInt64, true)
	case "UTINYINT":
		return parquet.Uint(8), convUint(math.MaxUint8, false)
	case "USMALLINT":
		return parquet.Uint(16), convUint(math.MaxUint16, false)
	case "UINTEGER":
		return parquet.Uint(32), convUint(math.MaxUint32, false)
	case "UBIGINT":
		return parquet.Uint(64), convUint(math.MaxUint64, true)
	case "HUGEINT":
		return parquet.Decimal(0, 38, parquet.FixedLenByteArrayType(16)), convDecimal(38, 0)
	case "FLOAT":
		return parquet.Leaf(parquet.FloatType), convFloat(true)
	case "DOUBLE":
		return parquet.Leaf(parquet.DoubleType), convFloat(false)
	case kDecimal:
		if node := decimalNode(t.width, t.scale); node != nil {
			return node, convDecimal(t.width, t.scale)
		}
	case kJSON:
		return parquet.JSON(), convJSON
	case "BLOB", "GEOMETRY":
		return parquet.Leaf(parquet.ByteArrayType), convBytes
	case "UUID":
		return parquet.UUID(), convUUID
	case "DATE":
		return parquet.Date(), convDate
	case "TIME":
		return parquet.TimeAdjusted(parquet.Microsecond, false), convTimeOfDay
	case "TIMESTAMP":
		return parquet.TimestampAdjusted(parquet.Microsecond, false), convTimestamp(time.Microsecond)
	case "TIMESTAMP_S", "TIMESTAMP_MS":
		return parquet.TimestampAdjusted(parquet.Millisecond, false), convTimestamp(time.Millisecond)
	case "TIMESTAMP_NS":
		return parquet.TimestampAdjusted(parquet.Nanosecond, false), convTimestamp(time.Nanosecond)
	case kTimestampTZ:
		return parquet.TimestampAdjusted(parquet.Microsecond, true), convTimestamp(time.Microsecond)
	}
	return parquet.String(), convString
}

// decimalNode returns DECIMAL(width, scale) on the smallest physical type
// that holds it, or nil for a width Parquet cannot take.
func decimalNode(width, scale int) parquet.Node {
	switch {
	case width < 1 || scale < 0 || scale > width || width > 38:
		return nil
	case width <= 9:
		return parquet.Decimal(scale, width, parquet.Int32Type)
	case width <= 18:
		return parquet.Decimal(scale, width, parquet.Int64Type)
	default:
		return parquet.Decimal(scale, width, parquet.FixedLenByteArrayType(16))
	}
}

func convBool(v any) (parquet.Value, error) {
	switch x := v.(type) {
	case bool:
		return parquet.BooleanValue(x), nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.BooleanValue(b), nil
	}
	return parquet.Value{}, fmt.Errorf("boolean value of type %T", v)
}

// toBig reads an integer in any of the forms a Result may hold.
func toBig(v any) (*big.Int, error) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), nil
	case uint64:
		return new(big.Int).SetUint64(x), nil
	case int:
		return big.NewInt(int64(x)), nil
	case int32:
		return big.NewInt(int64(x)), nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not an integer", x)
		}
		b, _ := big.NewFloat(x).Int(nil)
		return b, nil
	case json.Number:
		return parseBig(string(x))
	case string:
		return parseBig(x)
	}
	return nil, fmt.Errorf("integer value of type %T", v)
}

func parseBig(s string) (*big.Int, error) {
	if b, ok := new(big.Int).SetString(s, 10); ok {
		return b, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return nil, fmt.Errorf("%q is not an integer", s)
	}
	return r.Num(), nil
}

func convInt(lo, hi int64, wide bool) func(any) (parquet.Value, error) {
	return func(v any) (parquet.Value, error) {
		b, err := toBig(v)
		if err != nil {
			return parquet.Value{}, err
		}
		if !b.IsInt64() || b.Int64() < lo || b.Int64() > hi {
			return parquet.Value{}, fmt.Errorf("%s out of range", b)
		}
		if wide {
			return parquet.Int64Value(b.Int64()), nil
		}
		return parquet.Int32Value(int32(b.Int64())), nil
	}
}

func convUint(hi uint64, wide bool) func(any) (parquet.Value, error) {
	return func(v any) (parquet.Value, error) {
		b, err := toBig(v)
		if err != nil {
			return parquet.Value{}, err
		}
		if b.Sign() < 0 || !b.IsUint64() || b.Uint64() > hi {
			return parquet.Value{}, fmt.Errorf("%s out of range", b)
		}
		if wide {
			return parquet.Int64Value(int64(b.Uint64())), nil
		}
		return parquet.Int32Value(int32(uint32(b.Uint64()))), nil
	}
}

func convFloat(single bool) func(any) (parquet.Value, error) {
	return func(v any) (parquet.Value, error) {
		var f float64
		switch x := v.(type) {
		case float32:
			if single {
				return parquet.FloatValue(x), nil
			}
			f = float64(x)
		case float64:
			f = x
		case int64:
			f = float64(x)
		case uint64:
			f = float64(x)
		case json.Number:
			var err error
			if f, err = strconv.ParseFloat(string(x), 64); err != nil {
				return parquet.Value{}, err
			}
		case string:
			switch x {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				var err error
				if f, err = strconv.ParseFloat(x, 64); err != nil {
					return parquet.Value{}, err
				}
			}
		default:
			return parquet.Value{}, fmt.Errorf("float value of type %T", v)
		}
		if single {
			return parquet.FloatValue(float32(f)), nil
		}
		return parquet.DoubleValue(f), nil
	}
}

// convDecimal stores the unscaled value: int32, int64 or 16 bytes of big
// endian two's complement, per decimalNode.
func convDecimal(width, scale int) func(any) (parquet.Value, error) {
	factor := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	bound := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(width)), nil)
	return func(v any) (parquet.Value, error) {
		var r *big.Rat
		switch x := v.(type) {
		case json.Number:
			r, _ = new(big.Rat).SetString(string(x))
		case string:
			r, _ = new(big.Rat).SetString(x)
		case float64:
			r, _ = new(big.Rat).SetString(strconv.FormatFloat(x, 'f', -1, 64))
		case int64:
			r = new(big.Rat).SetInt64(x)
		case uint64:
			r = new(big.Rat).SetInt(new(big.Int).SetUint64(x))
		}
		if r == nil {
			return parquet.Value{}, fmt.Errorf("decimal value %v of type %T", v, v)
		}
		r.Mul(r, new(big.Rat).SetInt(factor))
		if !r.IsInt() {
			return parquet.Value{}, fmt.Errorf("%v has more than %d decimals", v, scale)
		}
		u := r.Num()
		if new(big.Int).Abs(u).Cmp(bound) >= 0 {
			return parquet.Value{}, fmt.Errorf("%v does not fit DECIMAL(%d,%d), the widest Parquet decimal; cast it in the statement (to DOUBLE or VARCHAR)", v, width, scale)
		}
		switch {
		case width <= 9:
			return parquet.Int32Value(int32(u.Int64())), nil
		case width <= 18:
			return parquet.Int64Value(u.Int64()), nil
		}
		return parquet.FixedLenByteArrayValue(twosComplement16(u)), nil
	}
}

// twosComplement16 writes |u| < 2^127 as 16 bytes, big endian.
func twosComplement16(u *big.Int) []byte {
	b := make([]byte, 16)
	if u.Sign() >= 0 {
		u.FillBytes(b)
		return b
	}
	// -u = 2^128 + u for the 16-byte window.
	m := new(big.Int).Lsh(big.NewInt(1), 128)
	m.Add(m, u)
	m.FillBytes(b)
	return b
}

func convJSON(v any) (parquet.Value, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return parquet.ByteArrayValue(raw), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return parquet.Value{}, err
	}
	return parquet.ByteArrayValue(b), nil
}

func convBytes(v any) (parquet.Value, error) {
	switch x := v.(type) {
	case []byte:
		return parquet.ByteArrayValue(x), nil
	case string: // base64, as JSON carries BLOB
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return parquet.Value{}, fmt.Errorf("blob value: %w", err)
		}
		return parquet.ByteArrayValue(b), nil
	}
	return parquet.Value{}, fmt.Errorf("blob value of type %T", v)
}

func convUUID(v any) (parquet.Value, error) {
	s, ok := v.(string)
	if !ok {
		return parquet.Value{}, fmt.Errorf("uuid value of type %T", v)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return parquet.Value{}, fmt.Errorf("uuid value %q", s)
	}
	return parquet.FixedLenByteArrayValue(b), nil
}

func toTime(v any, layout string) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		return time.Parse(layout, x)
	}
	return time.Time{}, fmt.Errorf("time value of type %T", v)
}

func convDate(v any) (parquet.Value, error) {
	t, err := toTime(v, time.DateOnly)
	if err != nil {
		return parquet.Value{}, err
	}
	days := t.Unix() / 86400
	if t.Unix()%86400 < 0 {
		days--
	}
	if days < math.MinInt32 || days > math.MaxInt32 {
		return parquet.Value{}, fmt.Errorf("date %v out of range", v)
	}
	return parquet.Int32Value(int32(days)), nil
}

func convTimeOfDay(v any) (parquet.Value, error) {
	t, err := toTime(v, "15:04:05.999999999")
	if err != nil {
		return parquet.Value{}, err
	}
	us := int64(t.Hour())*3_600_000_000 + int64(t.Minute())*60_000_000 +
		int64(t.Second())*1_000_000 + int64(t.Nanosecond()/1000)
	return parquet.Int64Value(us), nil
}

func convTimestamp(unit time.Duration) func(any) (parquet.Value, error) {
	return func(v any) (parquet.Value, error) {
		t, err := toTime(v, time.RFC3339Nano)
		if err != nil {
			return parquet.Value{}, err
		}
		switch unit {
		case time.Millisecond:
			return parquet.Int64Value(t.UnixMilli()), nil
		case time.Nanosecond:
			return parquet.Int64Value(t.UnixNano()), nil
		}
		return parquet.Int64Value(t.UnixMicro()), nil
	}
}

func convString(v any) (parquet.Value, error) {
	if s, ok := v.(string); ok {
		return parquet.ByteArrayValue([]byte(s)), nil
	}
	return parquet.ByteArrayValue([]byte(textOf(v))), nil
}

// orderedGroup is a Parquet group whose fields keep the order given:
// parquet.Group is a map and sorts its fields by name, which would reorder
// the result's columns and a STRUCT's fields.
type orderedGroup struct {
	fields []parquet.Field
}

func (g *orderedGroup) ID() int                     { return 0 }
func (g *orderedGroup) String() string              { return fmt.Sprintf("group(%d fields)", len(g.fields)) }
func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }

// namedField names a node inside an orderedGroup. Rows are written as
// parquet.Row values, so Value (the reflection path) is never used.
type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string                      { return f.name }
func (f namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }
