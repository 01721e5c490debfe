package sqlexec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/akosha/akosha/functions/query/sqlresult"
)

// Result is the answer to one statement (sqlresult.Result: the packages
// that read answers need not link DuckDB).
type Result = sqlresult.Result

// Column is a result column.
type Column = sqlresult.Column

// Row reads the converted values of one Result row.
type Row = sqlresult.Row

// convert turns a value of type t, as the driver scanned it after castSQL,
// into its JSON form.
func convert(v any, t *dtype) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.kind {
	case kJSON:
		s, ok := v.(string)
		if !ok {
			break
		}
		if json.Valid([]byte(s)) {
			return json.RawMessage(s), nil
		}
		return s, nil
	case kList, kArray:
		items, ok := v.([]any)
		if !ok {
			break
		}
		return convertList(items, t.elem)
	case kStruct:
		m, ok := v.(map[string]any)
		if !ok {
			break
		}
		return convertStruct(m, t)
	case kMap:
		if t.textual() {
			break
		}
		m, ok := v.(duckdb.OrderedMap)
		if !ok {
			break
		}
		return convertMap(m, t)
	case kUnion:
		u, ok := v.(duckdb.Union)
		if !ok {
			break
		}
		for i, name := range t.names {
			if name == u.Tag {
				return convert(u.Value, t.fields[i])
			}
		}
		return nil, fmt.Errorf("union member %q not in %s", u.Tag, t)
	}
	return convertScalar(v, t)
}

func convertScalar(v any, t *dtype) (any, error) {
	switch x := v.(type) {
	case bool, string:
		return x, nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint8:
		return uint64(x), nil
	case uint16:
		return uint64(x), nil
	case uint32:
		return uint64(x), nil
	case uint64:
		return x, nil
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nonFinite(float64(x)), nil
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nonFinite(x), nil
		}
		return x, nil
	case *big.Int:
		// HUGEINT and friends: an exact JSON number; clients that need
		// all 128 bits read it as text.
		return json.Number(x.String()), nil
	case duckdb.Decimal:
		if x.Value == nil {
			return nil, nil
		}
		return json.Number(x.String()), nil
	case time.Time:
		return formatTime(x, t.kind), nil
	case duckdb.Interval:
		return formatInterval(x), nil
	case []byte:
		if t.kind == "UUID" && len(x) == 16 {
			return formatUUID(x), nil
		}
		return bytes.Clone(x), nil
	}
	// Anything else is not expected from the driver after castSQL; give
	// its text rather than fail the whole statement.
	return fmt.Sprint(v), nil
}

func nonFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "Infinity"
	default:
		return "-Infinity"
	}
}

// formatTime writes a time value of kind k: DATE as YYYY-MM-DD, TIME as
// HH:MM:SS[.ffffff], TIME WITH TIME ZONE with its offset, and every
// timestamp as RFC 3339 in UTC (a TIMESTAMP without zone is read in the
// session zone, UTC).
func formatTime(t time.Time, k string) string {
	switch k {
	case "DATE":
		return t.Format(time.DateOnly)
	case "TIME":
		return t.Format("15:04:05.999999999")
	case kTimeTZ:
		return t.Format("15:04:05.999999999Z07:00")
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// formatInterval writes an interval as an ISO 8601 duration, e.g.
// P1Y2M3DT4H5M6.5S; components keep their sign, as DuckDB's do.
func formatInterval(iv duckdb.Interval) string {
	var b strings.Builder
	b.WriteByte('P')
	years, months := iv.Months/12, iv.Months%12
	if years != 0 {
		fmt.Fprintf(&b, "%dY", years)
	}
	if months != 0 {
		fmt.Fprintf(&b, "%dM", months)
	}
	if iv.Days != 0 {
		fmt.Fprintf(&b, "%dD", iv.Days)
	}
	if iv.Micros != 0 {
		b.WriteByte('T')
		us := iv.Micros
		h := us / 3_600_000_000
		us -= h * 3_600_000_000
		m := us / 60_000_000
		us -= m * 60_000_000
		if h != 0 {
			fmt.Fprintf(&b, "%dH", h)
		}
		if m != 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
		if us != 0 {
			s := strconv.FormatFloat(float64(us)/1e6, 'f', -1, 64)
			b.WriteString(s + "S")
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// convertList converts list items. Lists of finite FLOAT or DOUBLE values
// (embeddings) become []float32 or []float64: a third of the memory of
// []any, and the same JSON.
func convertList(items []any, elem *dtype) (any, error) {
	switch elem.kind {
	case "FLOAT":
		if fs, ok := finiteFloats[float32](items); ok {
			return fs, nil
		}
	case "DOUBLE":
		if fs, ok := finiteFloats[float64](items); ok {
			return fs, nil
		}
	}
	out := make([]any, len(items))
	for i, it := range items {
		c, err := convert(it, elem)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func finiteFloats[F float32 | float64](items []any) ([]F, bool) {
	out := make([]F, len(items))
	for i, it := range items {
		f, ok := it.(F)
		if !ok || math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

// convertStruct writes a STRUCT as a JSON object with its fields in type
// order (the driver's map has none).
func convertStruct(m map[string]any, t *dtype) (any, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range t.names {
		c, err := convert(m[name], t.fields[i])
		if err != nil {
			return nil, err
		}
		if err := writeMember(&b, i, name, c); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes()), nil
}

// convertMap writes a MAP as a JSON object in entry order, with keys as
// their text, like DuckDB's to_json.
func convertMap(m duckdb.OrderedMap, t *dtype) (any, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	keys, vals := m.Keys(), m.Values()
	for i := range keys {
		k, err := convert(keys[i], t.key)
		if err != nil {
			return nil, err
		}
		v, err := convert(vals[i], t.value)
		if err != nil {
			return nil, err
		}
		if err := writeMember(&b, i, textOf(k), v); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes()), nil
}

func writeMember(b *bytes.Buffer, i int, name string, v any) error {
	if i > 0 {
		b.WriteByte(',')
	}
	kb, err := json.Marshal(name)
	if err != nil {
		return err
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	b.Write(kb)
	b.WriteByte(':')
	b.Write(vb)
	return nil
}

// textOf is the text of a converted value in CSV and in MAP keys: strings
// as they are, numbers and booleans as literals, JSON as its text, BLOB as
// base64, and anything else as its JSON.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return string(x)
	case json.RawMessage:
		return string(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if _, ok := v.([]byte); ok && len(b) >= 2 {
		return string(b[1 : len(b)-1]) // base64 without the quotes
	}
	return string(b)
}
