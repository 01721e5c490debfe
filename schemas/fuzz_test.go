package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func FuzzDecodeMemory(f *testing.F) {
	f.Add(sampleMemoryJSON(f, false))
	f.Add(sampleMemoryJSON(f, true))
	f.Add([]byte(`{"system_id":"s","id":"i","content":"c\u00e9\ud834\udd1e\n","created_at":"2026-11-25 10:00:00","embedding":[1,-0.5e-3,0],"tags":["a"],"importance":0.5,"metadata":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"embedding":[1,2],"embedding_b64":"AACAPw==","x":[true,false,null]}`))
	f.Add([]byte("{\"content\":\"\xff\\ud800\",\"kind\":null}"))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Memory
		err := m.UnmarshalJSON(data)
		var se *SyntaxError
		if errors.As(err, &se) {
			// encoding/json must not accept an object we call malformed.
			if json.Valid(data) && bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) && se.Msg != "nested too deeply" {
				t.Fatalf("SyntaxError %v for input encoding/json accepts", err)
			}
			return
		}
		if err != nil {
			return // a field of the wrong type or an undecodable embedding
		}
		// The hand-written tag rules agree with the validator.
		if got, want := m.tagRulesHold(), validate.Struct(&m) == nil; got != want {
			t.Fatalf("tagRulesHold = %v, the validator says %v for %+v", got, want, m)
		}
		// We must not accept anything encoding/json rejects...
		if !json.Valid(data) {
			t.Fatalf("decoded input that is not valid JSON")
		}
		// ...and must read strings as it does (exact key matches).
		var raw map[string]json.RawMessage
		if json.Unmarshal(data, &raw) == nil {
			for key, got := range map[string]string{
				"system_id": m.SystemID, "id": m.ID, "kind": m.Kind, "content": m.Content,
				"project": m.Project, "source_type": m.SourceType,
			} {
				var want string
				if v, ok := raw[key]; ok && json.Unmarshal(v, &want) == nil && got != want {
					t.Fatalf("%s = %q, encoding/json reads %q", key, got, want)
				}
			}
		}

		// A successful decode round-trips through MarshalJSON, unless the
		// record holds what JSON cannot (a NaN from base64), which Validate
		// must then reject.
		out, err := json.Marshal(m)
		if err != nil {
			if checkEmbedding(m.Embedding) == "" {
				t.Fatalf("Marshal: %v", err)
			}
			return
		}
		var m2 Memory
		if err := m2.UnmarshalJSON(out); err != nil {
			t.Fatalf("decoding our own output %s: %v", out, err)
		}
		m.Normalize()
		m2.Normalize()
		if !sameFloats(m.Embedding, m2.Embedding) {
			t.Fatalf("embedding changed in the round trip")
		}
		// encoding/json compacts raw metadata and may re-escape strings in
		// it, so compare its meaning.
		if !sameJSON(m.Metadata, m2.Metadata) {
			t.Fatalf("metadata changed in the round trip: %s -> %s", m.Metadata, m2.Metadata)
		}
		m.Embedding, m2.Embedding = nil, nil
		m.Metadata, m2.Metadata = nil, nil
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", m, m2)
		}
		_ = m.Validate(testNow) // must not panic
	})
}

func FuzzDecodeEmbeddingB64(f *testing.F) {
	f.Add(EncodeEmbeddingB64(unitVector(1)))
	f.Add(EncodeEmbeddingB64([]float32{1, float32(math.NaN()), float32(math.Inf(-1))}))
	f.Add("")
	f.Add("AAAA")
	f.Add("AAB=")
	f.Add("AA\nAA\r\nAA==")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeEmbeddingB64(s)
		raw, stdErr := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			var ce base64.CorruptInputError
			if errors.As(stdErr, &ce) && err.Error() != fmt.Sprintf("invalid base64 at byte %d", int64(ce)) {
				t.Fatalf("error %q for %q, encoding/base64 says %v", err, s, stdErr)
			}
			if stdErr == nil && len(raw)%4 == 0 {
				t.Fatalf("rejected %q, which encoding/base64 decodes to %d bytes: %v", s, len(raw), err)
			}
			return
		}
		if stdErr != nil || len(raw) != 4*len(v) {
			t.Fatalf("accepted %q: encoding/base64 says %d bytes, %v", s, len(raw), stdErr)
		}
		for i, f := range v {
			if math.Float32bits(f) != binary.LittleEndian.Uint32(raw[4*i:]) {
				t.Fatalf("element %d: %#x, bytes say %#x", i, math.Float32bits(f), binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		v2, err := DecodeEmbeddingB64(EncodeEmbeddingB64(v))
		if err != nil || !sameFloats(v, v2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// sameJSON reports whether a and b hold the same JSON value (or are both
// absent).
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	decode := func(raw json.RawMessage) (any, error) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}
