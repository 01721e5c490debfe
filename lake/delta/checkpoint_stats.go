package delta

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// statsJSON rebuilds the JSON stats string from stats_parsed, for
// checkpoints written with delta.checkpoint.writeStatsAsJson=false.
func (s *structCols) statsJSON() string {
	root := map[string]any{}
	for i, l := range s.leaves {
		if l.null() {
			continue
		}
		v, ok := jsonValue(l.row[0], l.col.Type())
		if !ok {
			continue
		}
		m := root
		path := s.names[i]
		for _, n := range path[:len(path)-1] {
			next, ok := m[n].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[n] = next
			}
			m = next
		}
		m[path[len(path)-1]] = v
	}
	b, err := json.Marshal(root)
	if err != nil {
		return ""
	}
	return string(b)
}

// partitionValues serializes partitionValues_parsed the way the
// partitionValues map holds them (used only when the map column is absent).
func (s *structCols) partitionValues() map[string]*string {
	out := make(map[string]*string, len(s.leaves))
	for i, l := range s.leaves {
		name := s.names[i][0]
		if len(s.names[i]) != 1 {
			continue
		}
		if !s.present() || l.null() {
			out[name] = nil
			continue
		}
		v, ok := jsonValue(l.row[0], l.col.Type())
		if !ok {
			out[name] = nil
			continue
		}
		var str string
		switch x := v.(type) {
		case string:
			str = x
		case json.Number:
			str = string(x)
		case bool:
			str = strconv.FormatBool(x)
		case float64:
			str = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			str = fmt.Sprint(x)
		}
		out[name] = &str
	}
	return out
}

// jsonValue converts a typed Parquet value to what Delta's JSON stats hold:
// numbers, strings, booleans, dates as "2006-01-02", timestamps as RFC 3339
// with milliseconds. Binary and unknown types report false (JSON stats
// never carry them).
func jsonValue(c cell, t parquet.Type) (any, bool) {
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	var ct deprecated.ConvertedType = -1
	if c := t.ConvertedType(); c != nil {
		ct = *c
	}
	switch c.kind {
	case parquet.Boolean:
		return c.num != 0, true
	case parquet.Int32, parquet.Int64:
		n, _ := cellInt(c)
		switch x := lt.(type) {
		case *format.DateType:
			return time.Unix(n*86400, 0).UTC().Format("2006-01-02"), true
		case *format.TimestampType:
			return formatTS(unitTime(n, x.Unit.Value)), true
		case *format.DecimalType:
			return decimalNumber(big.NewInt(n), x.Scale), true
		}
		switch ct {
		case deprecated.Date:
			return time.Unix(n*86400, 0).UTC().Format("2006-01-02"), true
		case deprecated.TimestampMillis:
			return formatTS(time.UnixMilli(n)), true
		case deprecated.TimestampMicros:
			return formatTS(time.UnixMicro(n)), true
		}
		return json.Number(strconv.FormatInt(n, 10)), true
	case parquet.Float:
		f := float64(math.Float32frombits(uint32(c.num)))
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case parquet.Double:
		f := math.Float64frombits(c.num)
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	case parquet.Int96:
		if len(c.str) != 12 {
			return nil, false
		}
		nanos := int64(binary.LittleEndian.Uint64([]byte(c.str[:8])))
		day := int64(binary.LittleEndian.Uint32([]byte(c.str[8:])))
		return formatTS(time.Unix((day-2440588)*86400, nanos)), true
	case parquet.ByteArray, parquet.FixedLenByteArray:
		switch x := lt.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
			return c.str, true
		case *format.DecimalType:
			return decimalNumber(twosComplement([]byte(c.str)), x.Scale), true
		}
		if ct == deprecated.UTF8 {
			return c.str, true
		}
	}
	return nil, false
}

func unitTime(n int64, u format.TimeUnitValue) time.Time {
	switch u.(type) {
	case *format.MilliSeconds:
		return time.UnixMilli(n)
	case *format.NanoSeconds:
		return time.Unix(0, n)
	}
	return time.UnixMicro(n)
}

func formatTS(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

func decimalNumber(unscaled *big.Int, scale int32) json.Number {
	if scale <= 0 {
		return json.Number(unscaled.String())
	}
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).String()
	for len(digits) <= int(scale) {
		digits = "0" + digits
	}
	s := digits[:len(digits)-int(scale)] + "." + digits[len(digits)-int(scale):]
	if neg {
		s = "-" + s
	}
	return json.Number(s)
}
