package schemas

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
)

func TestDecodeEmbeddingB64(t *testing.T) {
	full := unitVector(3)
	tests := []struct {
		name    string
		in      string
		wantLen int    // if no error
		wantErr string // substring
	}{
		{"384 floats", EncodeEmbeddingB64(full), 384, ""},
		{"one float", EncodeEmbeddingB64([]float32{1.5}), 1, ""},
		{"empty", "", 0, ""},
		{"line breaks are skipped", EncodeEmbeddingB64(full[:3])[:8] + "\n" + EncodeEmbeddingB64(full[:3])[8:], 3, ""},
		{"bad character", "AAAA!AAA", 0, "invalid base64 at byte 4"},
		{"URL alphabet", strings.Repeat("-_-_", 2), 0, "invalid base64"},
		{"missing padding", "AAAAAA", 0, "invalid base64"},
		{"non-zero padding bits", "AAB=", 0, "invalid base64"},
		{"3 bytes", base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), 0, "not a whole number of float32"},
		{"5 bytes", base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4, 5}), 0, "not a whole number of float32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEmbeddingB64(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeEmbeddingB64 error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantLen {
				t.Fatalf("got %d floats, want %d", len(got), tt.wantLen)
			}
		})
	}
	got, err := DecodeEmbeddingB64(EncodeEmbeddingB64(full))
	if err != nil || !sameFloats(got, full) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestDecodeEmbeddingB64LittleEndian(t *testing.T) {
	// 1.0 is 0x3f800000; little-endian bytes 00 00 80 3f.
	got, err := DecodeEmbeddingB64(base64.StdEncoding.EncodeToString([]byte{0, 0, 0x80, 0x3f}))
	if err != nil || len(got) != 1 || got[0] != 1 {
		t.Fatalf("got %v, %v, want [1]", got, err)
	}
	// Non-finite values decode; Validate rejects them.
	nan := EncodeEmbeddingB64([]float32{float32(math.NaN())})
	if got, err := DecodeEmbeddingB64(nan); err != nil || !math.IsNaN(float64(got[0])) {
		t.Fatalf("NaN: got %v, %v", got, err)
	}
}

func TestCheckEmbedding(t *testing.T) {
	tests := []struct {
		name string
		v    []float32
		want string
	}{
		{"absent", nil, ""},
		{"empty", []float32{}, ""},
		{"valid", unitVector(4), ""},
		{"zeros", make([]float32, EmbeddingDim), ""},
		{"max float32", fillFloat(EmbeddingDim, math.MaxFloat32), ""},
		{"short", make([]float32, 383), "has 383 dimensions, want 384"},
		{"NaN", withValue(unitVector(4), 7, float32(math.NaN())), "element 7 is NaN"},
		{"Inf", withValue(unitVector(4), 9, float32(math.Inf(-1))), "element 9 is -Inf"},
	}
	for _, tt := range tests {
		if got := checkEmbedding(tt.v); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("%s: checkEmbedding = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func fillFloat(n int, f float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f
	}
	return v
}

func withValue(v []float32, i int, f float32) []float32 {
	v[i] = f
	return v
}

// sameFloats compares bit patterns, so that NaN equals NaN.
func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
