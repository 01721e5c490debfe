package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/akosha/akosha/schemas"
)

// row is one scanned row. Accessors return the zero value for NULL and record
// the first problem (an oversized or mistyped value) in err, which makes the
// row invalid.
type row struct {
	t   *tableSpec
	v   []any
	err error
}

func (r *row) slot(name string) (val, size any) {
	i, ok := r.t.index[name]
	if !ok {
		// A mapping function asked for a column its table spec lacks: a
		// bug in this file, reported on the row rather than crashing.
		r.fail(name, "is not a column of %s", r.t.name)
		return nil, nil
	}
	return r.v[2*i], r.v[2*i+1]
}

func (r *row) fail(name, format string, args ...any) {
	if r.err == nil {
		r.err = &schemas.ValidationError{Field: name, Message: fmt.Sprintf(format, args...)}
	}
}

// bytes is the row's size as the batch byte budget counts it: the sizes of
// its text and list values (embeddings at 4 bytes a value).
func (r *row) bytes() int64 {
	var n int64
	for i, c := range r.t.columns {
		if s, ok := r.v[2*i+1].(int64); ok && s > 0 {
			if c.kind == kFloatList {
				s *= 4
			}
			n += s
		}
	}
	return n
}

// tooBig reports a value NULLed by its guard.
func (r *row) tooBig(name string, val, size any) {
	if val != nil || size == nil {
		return
	}
	c := r.t.columns[r.t.index[name]]
	unit := "bytes"
	if c.kind == kFloatList {
		unit = "values"
	}
	r.fail(name, "is %v %s, more than the %d this importer reads", size, unit, c.max)
}

func (r *row) text(name string) string {
	val, size := r.slot(name)
	if val == nil {
		r.tooBig(name, val, size)
		return ""
	}
	s, ok := val.(string)
	if !ok {
		r.fail(name, "is a %T, not text", val)
	}
	return s
}

func (r *row) float(name string) *float64 {
	val, _ := r.slot(name)
	if val == nil {
		return nil
	}
	f, ok := val.(float64)
	if !ok {
		r.fail(name, "is a %T, not a number", val)
		return nil
	}
	return &f
}

// time reads a timestamp. DuckDB hands a TIMESTAMP (no zone) back as that
// wall-clock time in UTC, which is what Session-Buddy means by it (api/openapi.yaml, Timestamp);
// a TIMESTAMPTZ comes back as its instant. Text is parsed as the ingest path
// parses it.
func (r *row) time(name string) time.Time {
	val, size := r.slot(name)
	switch v := val.(type) {
	case nil:
		r.tooBig(name, val, size)
		return time.Time{}
	case time.Time:
		return v.UTC()
	case string:
		if strings.TrimSpace(v) == "" {
			return time.Time{}
		}
		t, err := schemas.ParseTime(v)
		if err != nil {
			r.fail(name, "%v", err)
		}
		return t
	}
	r.fail(name, "is a %T, not a timestamp", val)
	return time.Time{}
}

// texts reads a list of text, dropping NULL and empty elements, which carry
// nothing and would make a whole record invalid.
func (r *row) texts(name string) []string {
	val, size := r.slot(name)
	if val == nil {
		r.tooBig(name, val, size)
		return nil
	}
	list, ok := val.([]any)
	if !ok {
		r.fail(name, "is a %T, not a list", val)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *row) floats(name string) []float32 {
	val, size := r.slot(name)
	if val == nil {
		r.tooBig(name, val, size)
		return nil
	}
	list, ok := val.([]any)
	if !ok {
		r.fail(name, "is a %T, not a list", val)
		return nil
	}
	out := make([]float32, len(list))
	for i, e := range list {
		f, ok := e.(float32)
		if !ok {
			r.fail(name, "element %d is %v, not a number", i, e)
			return nil
		}
		out[i] = f
	}
	return out
}

// object reads a JSON object stored as text (Session-Buddy's JSON and
// VARCHAR metadata columns). NULL, "" and JSON null read as an empty object.
func (r *row) object(name string) obj {
	s := r.text(name)
	if strings.TrimSpace(s) == "" {
		return obj{}
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber() // keep numbers exactly as written
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		r.fail(name, "is not valid JSON")
		return obj{}
	}
	switch o := v.(type) {
	case nil:
		return obj{}
	case map[string]any:
		return o
	}
	r.fail(name, "must be a JSON object")
	return obj{}
}

// obj is a metadata or properties object being assembled.
type obj map[string]any

// add sets key unless the object already has it (what the system wrote wins
// over what the importer adds) or v is empty.
func (o obj) add(key string, v any) {
	if _, ok := o[key]; ok {
		return
	}
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case *float64:
		if x == nil {
			return
		}
		v = *x
	case time.Time:
		if x.IsZero() {
			return
		}
		v = schemas.FormatTime(x)
	case []string:
		if len(x) == 0 {
			return
		}
	case obj:
		if len(x) == 0 {
			return
		}
	case map[string]any:
		if len(x) == 0 {
			return
		}
	case []any:
		if len(x) == 0 {
			return
		}
	}
	o[key] = v
}

// raw encodes the object, or returns nil (absent) when it is empty.
func (o obj) raw(r *row, field string) json.RawMessage {
	if len(o) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any(o)); err != nil {
		r.fail(field, "cannot be encoded: %v", err)
		return nil
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}
