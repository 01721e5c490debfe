package schemas

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON reader for the record objects. The records'
// UnmarshalJSON methods use it instead of encoding/json because a record is
// dominated by its 384-float embedding, and encoding/json spends most of its
// time there (it scans the array once to validate it, again to decode it, and
// decodes each number through reflection). The reader follows RFC 8259 as
// strictly as encoding/json does and decodes strings the same way (invalid
// UTF-8 and lone surrogates become U+FFFD), which FuzzDecodeMemory checks.
// Keys match exactly (encoding/json also folds case); unknown keys are
// skipped after checking their syntax; for repeated keys the last one wins.

// maxDepth bounds the nesting of values, as encoding/json does, so that
// hostile input cannot make the recursive skip exhaust the stack.
const maxDepth = 10000

// decoder reads one JSON value from data. Its methods leave pos after what
// they read; they expect pos at the value, not at white space before it.
type decoder struct {
	data    []byte
	pos     int
	record  string // record type, for error messages
	scratch []byte // unescaped strings that contain escapes
}

// SyntaxError describes input that is not well-formed JSON (or not an object
// where a record is expected).
type SyntaxError struct {
	Record string // what was being read: "memory", "entity", ...
	Offset int    // byte offset of the problem in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid %s JSON at byte %d: %s", e.Record, e.Offset, e.Msg)
}

func (d *decoder) syntaxError(msg string) error {
	return &SyntaxError{Record: d.record, Offset: d.pos, Msg: msg}
}

// kind names the type of the value at pos, for error messages.
func (d *decoder) kind() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("%q", d.data[d.pos])
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the byte at pos, or 0 at the end of the input.
func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// literal consumes lit (true, false or null) if it is next.
func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// null consumes a null if it is next.
func (d *decoder) null() bool {
	return d.peek() == 'n' && d.literal("null")
}

// end checks that nothing but white space follows the value.
func (d *decoder) end() error {
	d.ws()
	if d.pos != len(d.data) {
		return d.syntaxError("unexpected data after the record")
	}
	return nil
}

// object reads an object, calling member for each key with pos at the value;
// member must read the value. key may alias the scratch buffer, so member
// must be done with it before reading a string.
func (d *decoder) object(member func(key []byte) error) error {
	if d.peek() != '{' {
		return d.syntaxError("want a JSON object, got " + d.kind())
	}
	d.pos++
	d.ws()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntaxError("want a string object key")
		}
		key, err := d.stringBytes()
		if err != nil {
			return err
		}
		d.ws()
		if d.peek() != ':' {
			return d.syntaxError("want ':' after object key")
		}
		d.pos++
		d.ws()
		if err := member(key); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
			d.ws()
		case '}':
			d.pos++
			return nil
		default:
			return d.syntaxError("want ',' or '}' after object member")
		}
	}
}

// stringBytes reads a string and returns its unescaped bytes, which alias
// either the input or the scratch buffer.
func (d *decoder) stringBytes() ([]byte, error) {
	start := d.pos + 1 // after the opening quote
	i := start
	// Fast path: no escapes and valid UTF-8, so the bytes are the input.
	for {
		i += plainPrefix(d.data[i:])
		if i >= len(d.data) {
			break
		}
		c := d.data[i]
		if c == '"' {
			d.pos = i + 1
			return d.data[start:i], nil
		}
		if c < utf8.RuneSelf {
			break // an escape or a control character
		}
		r, size := utf8.DecodeRune(d.data[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	buf := append(d.scratch[:0], d.data[start:i]...)
	for {
		j := i + plainPrefix(d.data[i:])
		buf = append(buf, d.data[i:j]...)
		i = j
		if i >= len(d.data) {
			d.pos = i
			return nil, d.syntaxError("unterminated string")
		}
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = buf
			return buf, nil
		case c == '\\':
			if i+1 >= len(d.data) {
				d.pos = i
				return nil, d.syntaxError("unterminated string")
			}
			switch e := d.data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r := hex4(d.data[i+2:])
				if r < 0 {
					d.pos = i
					return nil, d.syntaxError(`invalid \u escape in string`)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair decodes to one rune; a lone surrogate becomes
					// U+FFFD, as in encoding/json.
					r2 := rune(-1)
					if len(d.data)-i >= 2 && d.data[i] == '\\' && d.data[i+1] == 'u' {
						r2 = hex4(d.data[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r = dec
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				d.pos = i
				return nil, d.syntaxError("invalid escape in string")
			}
			i += 2
		case c < 0x20:
			d.pos = i
			return nil, d.syntaxError("control character in string")
		default:
			r, size := utf8.DecodeRune(d.data[i:])
			buf = utf8.AppendRune(buf, r) // U+FFFD for invalid UTF-8
			i += size
		}
	}
}

// plainPrefix returns the length of the longest prefix of b that a string
// can hold as it is: no '"', '\\', control characters or non-ASCII bytes.
// It tests 8 bytes at a time, since content and base64 embeddings are long.
func plainPrefix(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		// The classic "has a zero byte" and "has a byte less than n" tests
		// (exact as to whether there is one, if not which), plus the high
		// bits for non-ASCII.
		if ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// hex4 decodes the 4 hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a number and returns its text, checked against the JSON
// grammar (which is stricter than strconv's: no '+', hex, Inf or NaN).
func (d *decoder) number() ([]byte, error) {
	start, i, n := d.pos, d.pos, len(d.data)
	if i < n && d.data[i] == '-' {
		i++
	}
	switch {
	case i < n && d.data[i] == '0':
		i++
	case i < n && d.data[i] >= '1' && d.data[i] <= '9':
		i = skipDigits(d.data, i+1)
	default:
		d.pos = i
		return nil, d.syntaxError("invalid number")
	}
	if i < n && d.data[i] == '.' {
		j := skipDigits(d.data, i+1)
		if j == i+1 {
			d.pos = j
			return nil, d.syntaxError("invalid number: no digits after '.'")
		}
		i = j
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		j := skipDigits(d.data, i)
		if j == i {
			d.pos = j
			return nil, d.syntaxError("invalid number: no digits in exponent")
		}
		i = j
	}
	d.pos = i
	return d.data[start:i], nil
}

// skipDigits returns the index of the first non-digit in b at or after i.
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skip reads any value and discards it.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.syntaxError("nested too deeply")
	}
	switch c := d.peek(); {
	case c == '"':
		_, err := d.stringBytes()
		return err
	case c == '{':
		return d.object(func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		return d.array(func() error { return d.skip(depth + 1) })
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	case c == 't' && d.literal("true"), c == 'f' && d.literal("false"), c == 'n' && d.literal("null"):
		return nil
	}
	return d.syntaxError("want a JSON value")
}

// array reads an array, calling elem with pos at each element.
func (d *decoder) array(elem func() error) error {
	if d.peek() != '[' {
		return d.syntaxError("want an array")
	}
	d.pos++
	d.ws()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
			d.ws()
		case ']':
			d.pos++
			return nil
		default:
			return d.syntaxError("want ',' or ']' after array element")
		}
	}
}

// The typed readers below are for record fields; a well-formed value of the
// wrong type is a *ValidationError naming the field. null reads as the zero
// value, as in encoding/json.

// str reads a string.
func (d *decoder) str(field string) (string, error) {
	if d.null() {
		return "", nil
	}
	if d.peek() != '"' {
		return "", d.typeMismatch(field, "a string")
	}
	b, err := d.stringBytes()
	return string(b), err
}

// typeMismatch reports a wrong type for field, unless the value is not even
// well-formed, which is the more fundamental problem.
func (d *decoder) typeMismatch(field, want string) error {
	got := d.kind()
	if err := d.skip(0); err != nil {
		return err
	}
	return &ValidationError{Field: field, Message: fmt.Sprintf("want %s, got %s", want, got)}
}

// stringList reads an array of strings; null elements read as "".
func (d *decoder) stringList(field string) ([]string, error) {
	if d.null() {
		return nil, nil
	}
	if d.peek() != '[' {
		return nil, d.typeMismatch(field, "an array of strings")
	}
	list := []string{}
	err := d.array(func() error {
		if c := d.peek(); c != '"' && c != 'n' {
			return d.typeMismatch(fmt.Sprintf("%s[%d]", field, len(list)), "a string")
		}
		s, err := d.str(field)
		list = append(list, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// float64Ptr reads a number; null reads as nil.
func (d *decoder) float64Ptr(field string) (*float64, error) {
	if d.null() {
		return nil, nil
	}
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return nil, d.typeMismatch(field, "a number")
	}
	b, err := d.number()
	if err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return nil, &ValidationError{Field: field, Message: fmt.Sprintf("%s is out of range", truncate(string(b), 40))}
	}
	return &f, nil
}

// float32List reads an array of numbers; null reads as nil.
func (d *decoder) float32List(field string) ([]float32, error) {
	if d.null() {
		return nil, nil
	}
	if d.peek() != '[' {
		return nil, d.typeMismatch(field, "an array of numbers")
	}
	v := make([]float32, 0, EmbeddingDim)
	err := d.array(func() error {
		if f, n, ok := fastFloat32(d.data[d.pos:]); ok {
			d.pos += n
			v = append(v, f)
			return nil
		}
		if c := d.peek(); c != '-' && (c < '0' || c > '9') {
			return d.typeMismatch(fmt.Sprintf("%s[%d]", field, len(v)), "a number")
		}
		b, err := d.number()
		if err != nil {
			return err
		}
		f, err := parseFloat32(b)
		if err != nil {
			return &ValidationError{Field: field, Message: fmt.Sprintf("element %d (%s) is out of the float32 range", len(v), truncate(string(b), 40))}
		}
		v = append(v, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// timestamp reads a timestamp string (see ParseTime); null reads as the zero
// time.
func (d *decoder) timestamp(field string) (time.Time, error) {
	if d.null() {
		return time.Time{}, nil
	}
	if d.peek() != '"' {
		return time.Time{}, d.typeMismatch(field, "an RFC 3339 timestamp string")
	}
	b, err := d.stringBytes()
	if err != nil {
		return time.Time{}, err
	}
	t, err := ParseTime(string(b))
	if err != nil {
		return time.Time{}, &ValidationError{Field: field, Message: err.Error()}
	}
	return t, nil
}

// duration reads a ttl: a Go duration string ("720h", "1h30m") or a number
// of seconds; null reads as 0.
func (d *decoder) duration(field string) (time.Duration, error) {
	if d.null() {
		return 0, nil
	}
	switch c := d.peek(); {
	case c == '"':
		b, err := d.stringBytes()
		if err != nil {
			return 0, err
		}
		v, err := time.ParseDuration(string(b))
		if err != nil {
			return 0, &ValidationError{Field: field, Message: fmt.Sprintf("%q is not a duration (say \"720h\", \"90m\" or a number of seconds)", truncate(string(b), 40))}
		}
		if v <= 0 {
			return 0, &ValidationError{Field: field, Message: "must be more than 0"}
		}
		return v, nil
	case c == '-' || c >= '0' && c <= '9':
		b, err := d.number()
		if err != nil {
			return 0, err
		}
		secs, err := strconv.ParseFloat(string(b), 64)
		if err != nil || !(secs > 0) || secs > MaxTTL.Seconds() {
			return 0, &ValidationError{Field: field, Message: fmt.Sprintf("%s seconds is out of range (more than 0, at most 100 years)", truncate(string(b), 40))}
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, d.typeMismatch(field, "a duration string or a number of seconds")
}

// raw reads a value and returns a copy of its text, since the caller may
// reuse the input buffer. null reads as nil; other values that are not
// objects are kept for Validate to reject with a clear message.
func (d *decoder) raw() ([]byte, error) {
	if d.null() {
		return nil, nil
	}
	start := d.pos
	if err := d.skip(1); err != nil {
		return nil, err
	}
	return bytes.Clone(d.data[start:d.pos]), nil
}

// embeddings tracks the two spellings of an embedding while a record is
// decoded: a JSON array ("embedding") or base64 ("embedding_b64"). The base64
// form is decoded as soon as it is read, straight from the request's bytes;
// an error in it is kept until the whole record has been read, since a
// syntax error later in the record, or both spellings, is reported instead.
type embeddings struct {
	vec    []float32
	b64    []float32
	b64Err error
	hasVec bool
	hasB64 bool
}

// member reads the value of key if it is one of the embedding keys.
func (e *embeddings) member(d *decoder, key []byte) (ok bool, err error) {
	switch string(key) {
	case "embedding":
		e.vec, err = d.float32List("embedding")
		e.hasVec = e.vec != nil
	case "embedding_b64":
		e.hasB64 = !d.null()
		if e.hasB64 {
			e.b64, e.b64Err, err = d.embeddingB64("embedding_b64")
		}
	default:
		return false, nil
	}
	return true, err
}

// embeddingB64 reads a base64 embedding string and decodes it in place. The
// first error is the value's decoding error, the second a JSON one.
func (d *decoder) embeddingB64(field string) ([]float32, error, error) {
	if d.peek() != '"' {
		return nil, nil, d.typeMismatch(field, "a string")
	}
	// Fast path: the string's bytes up to the next quote are valid
	// base64. No base64 character is a quote, a backslash, a control or
	// a non-ASCII byte, so the string has no escapes and these bytes are
	// all of it; finding the quote with IndexByte is several times faster
	// than stringBytes' scan over 2 KB. encoding/base64 skips CR and LF,
	// which a JSON string may not hold raw, so those are looked for too.
	// Anything else goes the general way, so its answer is unchanged.
	start := d.pos + 1
	if q := bytes.IndexByte(d.data[start:], '"'); q >= 0 {
		raw := d.data[start : start+q]
		if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
			if v, err := decodeEmbeddingB64(raw); err == nil {
				d.pos = start + q + 1
				return v, nil, nil
			}
		}
	}
	b, err := d.stringBytes()
	if err != nil {
		return nil, nil, err
	}
	v, verr := decodeEmbeddingB64(b)
	return v, verr, nil
}

// result returns the embedding, decoded from base64 if it was given so.
func (e *embeddings) result() ([]float32, error) {
	if !e.hasB64 {
		return e.vec, nil
	}
	if e.hasVec {
		return nil, &ValidationError{Field: "embedding_b64", Message: "cannot be combined with embedding (send one or the other)"}
	}
	if e.b64Err != nil {
		return nil, &ValidationError{Field: "embedding_b64", Message: e.b64Err.Error()}
	}
	return e.b64, nil
}

// decodeRecord runs the common part of a record's UnmarshalJSON: it reads the
// object, calling member for each key, and checks that nothing follows it. It
// returns whether the input was null, which leaves the record unchanged (the
// encoding/json convention).
func decodeRecord(data []byte, record string, member func(d *decoder, key []byte) error) (null bool, err error) {
	d := decoder{data: data, record: record}
	d.ws()
	if d.null() {
		return true, d.end()
	}
	if err := d.object(func(key []byte) error { return member(&d, key) }); err != nil {
		return false, err
	}
	return false, d.end()
}

// marshalJSON is json.Marshal without HTML escaping: records are data, and
// "<" in content or metadata should stay "<" (an enclosing json.Marshal may
// still escape it).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
