package ingest

import (
	"bytes"

	"github.com/akosha/akosha/schemas"
)

// fastSplitMaxDepth is the deepest nesting inside a record that fastSplit
// accepts; deeper records take schemas.SplitBatch, whose depth limit is the
// reference.
const fastSplitMaxDepth = 64

// fastSplit cuts the common shape of a batch, {"records": [{...}, ...]} with
// an optional "system_id" (null or a plain printable-ASCII string without
// escapes), into raw records without reading their contents: each record is
// only matched up to its closing brace, honouring strings. schemas.SplitBatch
// reads every record in full to check it is well-formed, and decoding then
// reads it again; with 384 numbers per embedding that first pass was a sixth
// of the ingest CPU.
//
// ok is false for anything else (other keys, escapes, a non-object record,
// malformed envelope); the caller then uses schemas.SplitBatch. A record
// fastSplit returns may be malformed: its decoding reports a
// *schemas.SyntaxError, and the caller must then answer as SplitBatch would
// (see splitBody and decodeBatch). When every record decodes, the body is
// well-formed JSON and SplitBatch would have cut it the same way.
func fastSplit(body []byte) (b schemas.Batch, ok bool) {
	i := ws(body, 0)
	if i >= len(body) || body[i] != '{' {
		return schemas.Batch{}, false
	}
	i = ws(body, i+1)
	seenSystem, seenRecords := false, false
	for {
		key, j, ok := plainString(body, i)
		if !ok {
			return schemas.Batch{}, false
		}
		i = ws(body, j)
		if i >= len(body) || body[i] != ':' {
			return schemas.Batch{}, false
		}
		i = ws(body, i+1)
		switch {
		case key == "system_id" && !seenSystem:
			seenSystem = true
			if hasPrefix(body[i:], "null") {
				i += len("null")
				break
			}
			s, j, ok := plainString(body, i)
			if !ok {
				return schemas.Batch{}, false
			}
			b.SystemID, i = s, j
		case key == "records" && !seenRecords:
			seenRecords = true
			if i >= len(body) || body[i] != '[' {
				return schemas.Batch{}, false
			}
			i = ws(body, i+1)
			if i < len(body) && body[i] == ']' {
				i++
				break
			}
			for {
				j, ok := matchObject(body, i)
				if !ok {
					return schemas.Batch{}, false
				}
				b.Records = append(b.Records, body[i:j])
				i = ws(body, j)
				if i >= len(body) {
					return schemas.Batch{}, false
				}
				if body[i] == ']' {
					i++
					break
				}
				if body[i] != ',' {
					return schemas.Batch{}, false
				}
				i = ws(body, i+1)
			}
		default:
			return schemas.Batch{}, false
		}
		i = ws(body, i)
		if i >= len(body) {
			return schemas.Batch{}, false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return schemas.Batch{}, false
		}
		i = ws(body, i+1)
	}
	if !seenRecords || ws(body, i+1) != len(body) {
		return schemas.Batch{}, false
	}
	return b, true
}

// ws returns the index of the first byte at or after i that is not JSON
// white space.
func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasPrefix(b []byte, lit string) bool {
	return len(b) >= len(lit) && string(b[:len(lit)]) == lit
}

// plainString reads a JSON string at b[i] made of printable ASCII without
// escapes, returning it and the index after its closing quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", 0, false
		}
	}
	return "", 0, false
}

// structural marks the bytes matchObject stops at outside strings.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// matchObject returns the index after the brace that closes the object
// starting at b[i], skipping strings. It does not check what it skips.
func matchObject(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	depth := 0
	for j := i; j < len(b); j++ {
		c := b[j]
		if !structural[c] {
			continue
		}
		switch c {
		case '"':
			end, ok := stringEnd(b, j+1)
			if !ok {
				return 0, false
			}
			j = end
		case '{', '[':
			depth++
			if depth > fastSplitMaxDepth {
				return 0, false
			}
		default: // '}', ']'
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}

// stringEnd returns the index of the quote that closes the string whose
// contents start at b[i]: the first quote not escaped, that is not preceded
// by an odd run of backslashes. Embeddings in base64 are 2 KB strings, so
// it jumps from quote to quote.
func stringEnd(b []byte, i int) (int, bool) {
	for k := i; ; {
		q := bytes.IndexByte(b[k:], '"')
		if q < 0 {
			return 0, false
		}
		q += k
		n := 0
		for p := q - 1; p >= i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q, true
		}
		k = q + 1
	}
}
