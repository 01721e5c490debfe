package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func decodeMemory(t *testing.T, data string) Memory {
	t.Helper()
	var m Memory
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("Unmarshal(%s): %v", truncate(data, 200), err)
	}
	return m
}

func TestMemoryJSONRoundTrip(t *testing.T) {
	want := sampleMemory()
	for _, b64 := range []bool{false, true} {
		got := decodeMemory(t, string(sampleMemoryJSON(t, b64)))
		got.Normalize()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("b64=%v: decoded\n%+v\nwant\n%+v", b64, got, want)
		}
		if err := got.Validate(testNow); err != nil {
			t.Errorf("b64=%v: Validate: %v", b64, err)
		}
	}

	out, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeMemory(t, string(out)); !reflect.DeepEqual(got, want) {
		t.Errorf("Marshal/Unmarshal changed the record:\n%+v\nwant\n%+v", got, want)
	}
}

// TestMemoryMarshalJSON pins the field names of api/openapi.yaml and the timestamp form.
func TestMemoryMarshalJSON(t *testing.T) {
	m := sampleMemory()
	m.CreatedAt = time.Date(2026, 11, 25, 11, 0, 0, 123456000, time.FixedZone("CET", 3600))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(out, &obj); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range obj {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"category", "content", "created_at", "embedding", "id", "importance", "kind", "metadata",
		"namespace", "project", "session_id", "source_type", "subcategory", "system_id", "tags", "user_id"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
	if got := string(obj["created_at"]); got != `"2026-11-25T10:00:00.123456Z"` {
		t.Errorf("created_at = %s, want RFC 3339 UTC", got)
	}

	// Optional fields are omitted when absent.
	out, err = json.Marshal(Memory{SystemID: "s", ID: "i", Kind: "memory", Content: "c", CreatedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"system_id":"s","id":"i","kind":"memory","content":"c","created_at":"2026-11-25T12:00:00Z"}`; string(out) != want {
		t.Errorf("minimal memory = %s, want %s", out, want)
	}
}

func TestEntityRelationJSONRoundTrip(t *testing.T) {
	e := sampleEntity()
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var e2 Entity
	if err := json.Unmarshal(out, &e2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e2, e) {
		t.Errorf("entity round trip:\n%+v\nwant\n%+v", e2, e)
	}
	b64 := []byte(`{"system_id":"s","id":"e","name":"n","entity_type":"t","created_at":"2026-11-25T10:00:00",` +
		`"embedding_b64":"` + EncodeEmbeddingB64(e.Embedding) + `"}`)
	if err := json.Unmarshal(b64, &e2); err != nil || !sameFloats(e2.Embedding, e.Embedding) {
		t.Errorf("entity with embedding_b64: %v", err)
	}

	r := sampleRelation()
	out, err = json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var r2 Relation
	if err := json.Unmarshal(out, &r2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r2, r) {
		t.Errorf("relation round trip:\n%+v\nwant\n%+v", r2, r)
	}
	if err := r2.UnmarshalJSON([]byte(`{"from_entity": 1}`)); !isFieldError(err, "from_entity") {
		t.Errorf("relation with a number for from_entity: %v", err)
	}
}

func isFieldError(err error, field string) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == field
}

func TestDecodeEmbeddingForms(t *testing.T) {
	vec := unitVector(5)
	b64 := `"` + EncodeEmbeddingB64(vec) + `"`
	arr := pythonFloats(vec)
	tests := []struct {
		name    string
		members string
		want    []float32
		field   string // of the expected *ValidationError, if any
	}{
		{"array", `"embedding":` + arr, vec, ""},
		{"base64", `"embedding_b64":` + b64, vec, ""},
		{"none", `"id":"x"`, nil, ""},
		{"null array, base64", `"embedding":null,"embedding_b64":` + b64, vec, ""},
		{"array, null base64", `"embedding":` + arr + `,"embedding_b64":null`, vec, ""},
		{"empty array", `"embedding":[]`, []float32{}, ""},
		{"both", `"embedding":` + arr + `,"embedding_b64":` + b64, nil, "embedding_b64"},
		{"both, empty array", `"embedding":[],"embedding_b64":` + b64, nil, "embedding_b64"},
		{"base64 with an escape", `"embedding_b64":"` + fmt.Sprintf(`\u%04x`, b64[1]) + b64[2:], vec, ""},
		{"bad base64", `"embedding_b64":"@@@@"`, nil, "embedding_b64"},
		{"base64 not a string", `"embedding_b64":[1]`, nil, "embedding_b64"},
		{"string element", `"embedding":[1,"2"]`, nil, "embedding[1]"},
		{"null element", `"embedding":[1,null]`, nil, "embedding[1]"},
		{"object", `"embedding":{}`, nil, "embedding"},
		{"overflow", `"embedding":[1e39]`, nil, "embedding"},
		{"short array decodes", `"embedding":[0.5,-0.25]`, []float32{0.5, -0.25}, ""},
		{"integers and exponents", `"embedding":[0,-0,1,2E1,3e-1, 4.5e+1]`, []float32{0, 0, 1, 20, 0.3, 45}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Memory
			err := m.UnmarshalJSON([]byte("{" + tt.members + "}"))
			if tt.field != "" {
				if !isFieldError(err, tt.field) {
					t.Fatalf("error = %v, want a *ValidationError for %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Embedding, tt.want) || (m.Embedding == nil) != (tt.want == nil) {
				t.Fatalf("embedding = %v, want %v", truncate(fmtFloats(m.Embedding), 80), truncate(fmtFloats(tt.want), 80))
			}
		})
	}
}

// A raw line break inside a JSON string is malformed JSON, even where
// base64 decoding would skip it: the request is refused as a whole, not
// reported as a bad embedding.
func TestBase64WithARawLineBreakIsMalformed(t *testing.T) {
	b64 := EncodeEmbeddingB64(unitVector(5))
	for _, brk := range []string{"\n", "\r"} {
		var m Memory
		err := m.UnmarshalJSON([]byte(`{"embedding_b64":"` + b64[:8] + brk + b64[8:] + `"}`))
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) {
			t.Errorf("%q inside: %v, want a JSON syntax error", brk, err)
		}
	}
}

func fmtFloats(v []float32) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDecodeFieldTypes(t *testing.T) {
	tests := []struct {
		json  string
		field string
		msg   string
	}{
		{`{"id": 5}`, "id", "want a string, got a number"},
		{`{"content": ["a"]}`, "content", "want a string, got an array"},
		{`{"kind": true}`, "kind", "want a string, got a boolean"},
		{`{"tags": "a,b"}`, "tags", "want an array of strings, got a string"},
		{`{"tags": ["a", 1]}`, "tags[1]", "want a string, got a number"},
		{`{"importance": "0.5"}`, "importance", "want a number, got a string"},
		{`{"importance": 1e400}`, "importance", "out of range"},
		{`{"created_at": 1732528800}`, "created_at", "want an RFC 3339 timestamp string, got a number"},
		{`{"created_at": "yesterday"}`, "created_at", `"yesterday" is not an RFC 3339 timestamp`},
		{`{"embedding": "abc"}`, "embedding", "want an array of numbers, got a string"},
	}
	for _, tt := range tests {
		var m Memory
		err := m.UnmarshalJSON([]byte(tt.json))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tt.field || !strings.Contains(ve.Message, tt.msg) {
			t.Errorf("UnmarshalJSON(%s) = %v, want %s: ...%s...", tt.json, err, tt.field, tt.msg)
		}
	}
}

func TestDecodeSyntaxErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `[]`, `"x"`, `1`, `{`, `{"id"}`, `{"id":}`, `{"id":"x",}`, `{"id":"x" "kind":"y"}`,
		`{"id":"x"} {}`, `{"id":"x"}]`, `{id:"x"}`, `{'id':'x'}`, `{"id":"x\q"}`, `{"id":"x\u12"}`,
		`{"id":"a` + "\n" + `b"}`, `{"id":"x`, `{"x":[1,2}`, `{"x":[1 2]}`, `{"x":01}`, `{"x":1.}`,
		`{"x":.5}`, `{"x":1e}`, `{"x":+1}`, `{"x":-}`, `{"x":NaN}`, `{"x":Infinity}`, `{"x":tru}`,
		`{"x":nul}`, `{"embedding":[1,2,]}`, `{"embedding":[01]}`, `{"embedding":[1.]}`,
		`{"embedding":[-]}`, `{"metadata":{"a":1,}}`, `{"metadata":{"a" 1}}`, `{"tags":["a",]}`,
		`{"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	} {
		var m Memory
		err := m.UnmarshalJSON([]byte(in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("UnmarshalJSON(%s) = %v, want a *SyntaxError", truncate(in, 40), err)
			continue
		}
		if json.Valid([]byte(in)) && strings.HasPrefix(in, "{") && !strings.Contains(se.Msg, "nested") {
			t.Errorf("UnmarshalJSON(%s) = %v, but encoding/json accepts it", in, err)
		}
	}
}

// TestDecodeStrings compares string decoding with encoding/json's, escapes,
// surrogates and invalid UTF-8 included.
func TestDecodeStrings(t *testing.T) {
	for _, s := range []string{
		`""`, `"plain ascii"`, `"käse ☕ 𝄞"`, `"tab\there"`, `"quote \" backslash \\ slash \/"`,
		`"\b\f\n\r\t"`, `"\u00e9\u4e2d\u0000"`, `"\ud834\udd1e"`, `"\ud834"`, `"\udd1e"`, `"\ud834x"`,
		`"\ud834\u0041"`, `"\uD834\uDD1E"`, "\"bad \xff utf8\"", "\"truncated \xe2\x82\"", "\"surrogate \xed\xa0\x80\"",
		"\"\x7f del\"", `"0123456\"89abcdef"`, `"01234567\\89abcdef"`, "\"long " + strings.Repeat("abcdefgh", 100) + "\\n\"",
		"\"" + strings.Repeat("é", 50) + "\"", "\"" + strings.Repeat("x", 13) + "\xc3\xa9" + strings.Repeat("y", 13) + "\"",
		`"\u2028\u2029"`, "\"\xef\xbf\xbd literal replacement\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", s, err)
		}
		var m Memory
		if err := m.UnmarshalJSON([]byte(`{"content":` + s + `}`)); err != nil {
			t.Errorf("content %q: %v", s, err)
			continue
		}
		if m.Content != want {
			t.Errorf("content %q = %q, want %q", s, m.Content, want)
		}
	}
}

// TestPlainPrefix checks the 8-bytes-at-a-time scan against the obvious loop
// for every special byte at every position.
func TestPlainPrefix(t *testing.T) {
	slow := func(b []byte) int {
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				return i
			}
		}
		return len(b)
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos <= n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				if pos < n {
					b[pos] = byte(c)
				}
				if got, want := plainPrefix(b), slow(b); got != want {
					t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

func TestDecodeDetails(t *testing.T) {
	// Unknown keys are skipped, whatever they hold; exact names only.
	m := decodeMemory(t, ` {"extra":{"a":[1,{"b":null}],"c":"\u00e9"},"ID":"no","id":"yes","more":[true,false,-1.5e3]} `)
	if m.ID != "yes" {
		t.Errorf("id = %q, want yes", m.ID)
	}
	// The last of repeated keys wins, as in encoding/json.
	if m := decodeMemory(t, `{"id":"a","id":"b"}`); m.ID != "b" {
		t.Errorf("repeated key: id = %q, want b", m.ID)
	}
	// null fields are absent.
	m = decodeMemory(t, `{"id":null,"tags":null,"importance":null,"metadata":null,"created_at":null,"embedding":null}`)
	if !reflect.DeepEqual(m, Memory{}) {
		t.Errorf("null fields: %+v, want the zero Memory", m)
	}
	// A null record leaves the value alone (the encoding/json convention);
	// anything else replaces it entirely.
	m = Memory{ID: "keep"}
	if err := m.UnmarshalJSON([]byte("null")); err != nil || m.ID != "keep" {
		t.Errorf("null: %v, %+v", err, m)
	}
	if err := m.UnmarshalJSON([]byte(`{"content":"c"}`)); err != nil || m.ID != "" || m.Content != "c" {
		t.Errorf("reuse: %v, %+v", err, m)
	}
	// An error leaves the value alone.
	if err := m.UnmarshalJSON([]byte(`{"content":"d","id":1}`)); err == nil || m.Content != "c" {
		t.Errorf("failed decode changed the record: %v, %+v", err, m)
	}
	// Metadata is kept verbatim, and copied out of the input buffer.
	in := []byte(`{"metadata": {"a": [1, 2]} }`)
	if err := m.UnmarshalJSON(in); err != nil {
		t.Fatal(err)
	}
	copy(in, bytes.Repeat([]byte("x"), len(in)))
	if string(m.Metadata) != `{"a": [1, 2]}` {
		t.Errorf("metadata = %s", m.Metadata)
	}
	// Records in a batch, as the ingest function decodes them.
	var batch struct {
		SystemID string   `json:"system_id"`
		Records  []Memory `json:"records"`
	}
	body := `{"system_id":"buddy-01","records":[` + string(sampleMemoryJSON(t, false)) + `,` + string(sampleMemoryJSON(t, true)) + `]}`
	if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch.Records) != 2 {
		t.Fatalf("batch: %v", err)
	}
	if !reflect.DeepEqual(batch.Records[0], batch.Records[1]) {
		t.Errorf("the two embedding forms decode differently")
	}
}
